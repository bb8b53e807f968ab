//! The scenes screen: the catalog's items with a filter, and the selected item's assets.

use chunkscope::catalog::AssetRole;
use chunkscope::convert;
use chunkscope::pipeline::Resolution;
use chunkscope::profile::units;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};

use super::Theme;
use crate::tui::app::App;

/// ```text
/// ┌ Scenes 2/3 · filter /0402 · ★ the lesson's: items[-1] (G) ─────────────┐
/// │   id                        date        cloud  platform                 │
/// │ ▶ S2B_31UFU_20200402_0_L2A  2020-04-02   63.0%  sentinel-2b ★ lesson   │
/// └──────────────────────────────────────────────────────────────────────────┘
/// ┌ Assets of S2B_31UFU_20200402_0_L2A ──────────────────────────────────────┐
/// │ asset   size          bands dtype  block      overviews  res             │
/// │ visual  10980x10980   3 x Byte     1024x1024  4: 5490…   10 m            │
/// │ SCL     ...                                                              │
/// │ B02     error: ...                                                       │
/// │ A run reads (at 20 m, the lesson's; Z in the chunk setup: 10 m):         │
/// │ visual  20 m: overview 0, 5490x5490       10 m: full res, 10980x10980    │
/// │ SCL     20 m: full res, 5490x5490         10 m: full res …, pixels 2x2   │
/// │ B02     not read by runs (chunkscope plan --asset b02 plans its chunks)  │
/// └──────────────────────────────────────────────────────────────────────────┘
/// ```
///
/// `F` opens the search form over the list ([`super::search::render`]).
pub fn render(app: &App, theme: Theme, area: Rect, buf: &mut Buffer) {
    render_lists(app, theme, area, buf);
    if let Some(form) = &app.search {
        super::search::render(form, theme, area, buf);
    }
}

fn render_lists(app: &App, theme: Theme, area: Rect, buf: &mut Buffer) {
    let visible = app.visible_items();
    let list_h = (convert::clamp_u16(visible.len()) + 3).clamp(4, area.height / 2);
    let [list, assets] =
        Layout::vertical([Constraint::Length(list_h), Constraint::Min(0)]).areas(area);

    let filter = if app.filtering || !app.filter.is_empty() {
        format!(
            " · filter /{}{}",
            app.filter,
            if app.filtering { "_" } else { "" }
        )
    } else {
        String::new()
    };
    let lesson = app.catalog.lesson_index();
    let title = format!(
        " Scenes {}/{}{filter} · ★ the lesson's: items[-1] (G) ",
        visible.len(),
        app.catalog.items.len()
    );
    let mut lines = vec![Line::from(Span::styled(
        format!(
            "  {:<34} {:<10} {:>6}  {}",
            "id", "date", "cloud", "platform"
        ),
        theme.bold(),
    ))];
    let rows = list_h.saturating_sub(3) as usize;
    let first = app.selected.saturating_sub(rows.saturating_sub(1));
    for (pos, &i) in visible.iter().enumerate().skip(first).take(rows) {
        let it = &app.catalog.items[i];
        let date = it.datetime.as_deref().unwrap_or("-");
        let date = date.get(..10).unwrap_or(date);
        let cloud = it
            .cloud_cover
            .map_or("-".to_string(), |c| units::share(c / 100.0));
        let sel = pos == app.selected;
        let text = format!(
            "{} {:<34} {:<10} {:>6}  {}{}",
            if sel { "▶" } else { " " },
            it.id,
            date,
            cloud,
            it.platform.as_deref().unwrap_or("-"),
            if Some(i) == lesson { " ★ lesson" } else { "" }
        );
        lines.push(Line::from(Span::styled(
            text,
            if sel {
                theme.selected()
            } else {
                ratatui::style::Style::new()
            },
        )));
    }
    if visible.is_empty() {
        lines.push(Line::from("  no scene matches the filter (Esc clears it)"));
    }
    Paragraph::new(lines)
        .block(Block::bordered().title(title))
        .render(list, buf);

    let mut lines = vec![Line::from(Span::styled(
        format!(
            "{:<7} {:<12} {:<10} {:<10} {:<18} {}",
            "asset", "size", "dtype", "block", "overviews", "res"
        ),
        theme.bold(),
    ))];
    let title = match &app.assets {
        Some((i, list)) if Some(*i) == app.selected_item() => {
            for a in list {
                lines.push(match &a.info {
                    Ok(info) => {
                        let block = info
                            .block_shapes
                            .first()
                            .map_or("-".into(), |[r, c]| format!("{r}x{c}"));
                        let ovr = match info.overviews.first() {
                            Some([r, c]) => format!("{}: {r}x{c}…", info.overviews.len()),
                            None => "none".into(),
                        };
                        let res = info
                            .resolution
                            .map_or("-".into(), |[x, _]| format!("{x} m"));
                        Line::from(format!(
                            "{:<7} {:<12} {:<10} {:<10} {:<18} {}",
                            a.key,
                            format!("{}x{}", info.rows, info.cols),
                            format!("{} x {}", info.bands, info.dtype),
                            block,
                            ovr,
                            res
                        ))
                    }
                    Err(e) => Line::from(vec![
                        Span::raw(format!("{:<7} ", a.key)),
                        Span::styled(format!("✗ error: {e}"), theme.fg(Color::Red)),
                    ]),
                });
            }
            format!(" Assets of {} ", app.catalog.items[*i].id)
        }
        _ => {
            lines.push(Line::from("inspecting…"));
            " Assets ".to_string()
        }
    };
    if let Some((_, list)) = app
        .assets
        .as_ref()
        .filter(|(i, _)| Some(*i) == app.selected_item())
    {
        lines.push(Line::from(Span::styled(
            "A run reads (at 20 m, the lesson's; Z in the chunk setup: 10 m) · Enter: tune chunks",
            theme.dim(),
        )));
        lines.extend(list.iter().map(|a| read_line(a)));
    } else {
        lines.push(Line::from(Span::styled(
            "Enter: tune chunks for this scene",
            theme.dim(),
        )));
    }
    Paragraph::new(lines)
        .block(Block::bordered().title(title))
        .render(assets, buf);
}

/// What a run reads of one asset at 20 m and at 10 m, from the engine's own rule
/// ([`Resolution::reads`]) and the asset's figures.
fn read_line(a: &crate::tui::model::assets::AssetView) -> Line<'static> {
    let role = AssetRole::ALL
        .into_iter()
        .find(|r| r.keys().contains(&a.key.as_str()));
    let Some(role) = role else {
        return Line::from(format!("{:<7} not read by runs", a.key));
    };
    let what = |res: Resolution| match (res.reads(role), &a.info) {
        (None, _) => None,
        (Some(read), Ok(info)) => Some(
            read.describe(info)
                .unwrap_or_else(|| "no such overview".to_string()),
        ),
        (Some(_), Err(_)) => Some("cannot be read (see above)".to_string()),
    };
    match (what(Resolution::R20), what(Resolution::R10)) {
        (Some(at20), Some(at10)) => {
            Line::from(format!("{:<7} 20 m: {at20:<24} 10 m: {at10}", a.key))
        }
        _ => Line::from(format!(
            "{:<7} not read by runs (chunkscope plan --asset {} plans its chunks)",
            a.key,
            role.to_string().to_lowercase()
        )),
    }
}
