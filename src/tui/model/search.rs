//! The scenes screen's search form (`F`): the lesson's first step, a STAC API search, typed
//! in fields and checked with the same parsers as `chunkscope search`. Plain data; the
//! search itself is a command the session runs. Runs on the UI thread.

use std::path::PathBuf;

use chunkscope::catalog::search::{self, DEFAULT_API_URL, DEFAULT_COLLECTION, SearchRequest};
use chunkscope::convert;

/// The form's fields, in the order Tab visits them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Url,
    Collection,
    Area,
    Dates,
    Cloud,
    MaxItems,
    SaveAs,
}

impl Field {
    pub const ALL: [Field; 7] = [
        Field::Url,
        Field::Collection,
        Field::Area,
        Field::Dates,
        Field::Cloud,
        Field::MaxItems,
        Field::SaveAs,
    ];

    /// The label on the form.
    pub fn label(self) -> &'static str {
        match self {
            Field::Url => "API URL",
            Field::Collection => "collection",
            Field::Area => "area",
            Field::Dates => "dates",
            Field::Cloud => "cloud <",
            Field::MaxItems => "max items",
            Field::SaveAs => "save as",
        }
    }

    /// What the field takes, shown beside it.
    pub fn hint(self) -> &'static str {
        match self {
            Field::Url => "the API's landing page",
            Field::Collection => "earth-search v1: sentinel-2-l2a",
            Field::Area => "LON,LAT point or W,S,E,N box; empty: anywhere",
            Field::Dates => "2023-07-01/2023-08-31, 2023-07; empty: any",
            Field::Cloud => "% (the lesson: 5); empty: any",
            Field::MaxItems => "empty: all (at most 100 pages)",
            Field::SaveAs => "the ItemCollection file",
        }
    }
}

/// Where a search stands.
#[derive(Debug, Clone, PartialEq)]
pub enum FormStatus {
    /// Being filled in.
    Editing,
    /// A value does not parse: the message names it.
    Invalid(String),
    /// Sent; the answer is awaited.
    Searching,
    /// The search failed: the engine's message.
    Failed(String),
}

/// The form's values and state.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchForm {
    values: [String; Field::ALL.len()],
    pub focus: Field,
    pub status: FormStatus,
}

impl SearchForm {
    /// A form with the lesson's defaults; `catalog` (the catalog on screen) sets the URL
    /// when it is a `chunkscope serve` catalog (`http://HOST/search.json`): then its server
    /// is the API, offline.
    pub fn new(catalog: &str) -> SearchForm {
        let url = catalog
            .strip_suffix("/search.json")
            .filter(|base| chunkscope::catalog::is_http_url(base))
            .unwrap_or(DEFAULT_API_URL);
        let mut form = SearchForm {
            values: Default::default(),
            focus: Field::Area,
            status: FormStatus::Editing,
        };
        form.values[0] = url.to_owned();
        form.values[1] = DEFAULT_COLLECTION.to_owned();
        form.values[6] = "search.json".to_owned();
        form
    }

    fn index(field: Field) -> usize {
        Field::ALL.iter().position(|f| *f == field).unwrap_or(0)
    }

    pub fn value(&self, field: Field) -> &str {
        &self.values[Self::index(field)]
    }

    #[cfg(test)]
    pub fn set(&mut self, field: Field, value: &str) {
        self.values[Self::index(field)] = value.to_owned();
    }

    /// Typing into the focused field.
    pub fn push(&mut self, c: char) {
        if !c.is_control() {
            self.values[Self::index(self.focus)].push(c);
            self.status = FormStatus::Editing;
        }
    }

    pub fn pop(&mut self) {
        self.values[Self::index(self.focus)].pop();
        self.status = FormStatus::Editing;
    }

    /// The next field (`step` 1) or the previous (`step` -1), wrapping around.
    pub fn move_focus(&mut self, step: isize) {
        let i = convert::ring_step(Self::index(self.focus), step, Field::ALL.len());
        self.focus = Field::ALL[i];
    }

    pub fn searching(&self) -> bool {
        self.status == FormStatus::Searching
    }

    /// The request and where to save it, or what is wrong with a value (quoted).
    pub fn request(&self) -> Result<(SearchRequest, PathBuf), String> {
        let text = |f: Field| self.value(f).trim();
        let url = text(Field::Url);
        if !chunkscope::catalog::is_http_url(url) {
            return Err(format!(
                "API URL: \"{url}\" is not an http:// or https:// URL, e.g. {DEFAULT_API_URL}"
            ));
        }
        let mut request = SearchRequest::new(url);
        request.collections = text(Field::Collection)
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect();
        let area = text(Field::Area);
        if !area.is_empty() {
            request.area = Some(
                if area.split(',').count() == 2 {
                    search::parse_point(area)
                } else {
                    search::parse_bbox(area)
                }
                .map_err(|e| format!("area: {e}"))?,
            );
        }
        let dates = text(Field::Dates);
        if !dates.is_empty() {
            request.datetime =
                Some(search::parse_datetime(dates).map_err(|e| format!("dates: {e}"))?);
        }
        let cloud = text(Field::Cloud).trim_end_matches('%').trim();
        if !cloud.is_empty() {
            let term = search::parse_query(&format!("eo:cloud_cover<{cloud}"))
                .ok()
                .filter(|t| t.value.is_number())
                .ok_or_else(|| format!("cloud: \"{cloud}\" is not a percentage, e.g. 5"))?;
            request.query.push(term);
        }
        let max = text(Field::MaxItems);
        if !max.is_empty() {
            let n = max
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("max items: \"{max}\" is not a whole number above 0"))?;
            request.max_items = Some(n);
        }
        let out = text(Field::SaveAs);
        if out.is_empty() {
            return Err("save as: give a file name, e.g. search.json".into());
        }
        Ok((request, PathBuf::from(out)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_the_served_catalogs_api() {
        let f = SearchForm::new("/data/search.json");
        assert_eq!(f.value(Field::Url), DEFAULT_API_URL);
        let f = SearchForm::new("http://127.0.0.1:8080/search.json");
        assert_eq!(f.value(Field::Url), "http://127.0.0.1:8080");
        assert_eq!(f.focus, Field::Area);
    }

    #[test]
    fn values_become_the_lessons_request_or_a_quoted_error() {
        let mut f = SearchForm::new("search.json");
        f.set(Field::Area, "27.95,36.33");
        f.set(Field::Dates, "2023-07-01/2023-08-31");
        f.set(Field::Cloud, "5 %");
        f.set(Field::MaxItems, "20");
        let (r, out) = f.request().unwrap();
        assert_eq!(r.describe().matches("point 27.95,36.33").count(), 1);
        assert_eq!(r.query[0].to_string(), "eo:cloud_cover<5");
        assert_eq!(r.max_items, Some(20));
        assert_eq!(out, PathBuf::from("search.json"));
        f.set(Field::Area, "1,2,3");
        assert!(
            f.request()
                .unwrap_err()
                .starts_with("area: \"1,2,3\" is not a bounding box")
        );
        f.set(Field::Area, "27,36,28,37");
        f.set(Field::Cloud, "few");
        assert_eq!(
            f.request().unwrap_err(),
            "cloud: \"few\" is not a percentage, e.g. 5"
        );
    }

    #[test]
    fn tab_wraps_around() {
        let mut f = SearchForm::new("search.json");
        f.move_focus(-1);
        f.move_focus(-1);
        f.move_focus(-1);
        assert_eq!(f.focus, Field::SaveAs);
        f.move_focus(1);
        assert_eq!(f.focus, Field::Url);
    }
}
