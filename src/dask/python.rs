//! The Python that runs the lesson's code for chunkscope: a virtual environment with the
//! pinned versions of `tests/dask/requirements.txt` (embedded in the binary), made once in
//! the user's cache folder, or an interpreter the user names. Both are checked the same
//! way: dask, distributed, rioxarray and pystac must import. Nothing here starts Python
//! unless asked; it runs on the caller's thread and waits for the child.
//!
//! The environment's folder is `<cache>/chunkscope/dask-venv-<key>`, `<key>` the first 16
//! hex digits of the SHA-256 of the requirements, finished when `.complete` is in it: the
//! same folder `./dev test` makes for the round-trip test, so the two are one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sha2::{Digest, Sha256};

/// The pinned versions, as `tests/dask/requirements.txt` has them.
pub const REQUIREMENTS: &str = include_str!("../../tests/dask/requirements.txt");

/// The modules the exported script imports, in the order they are reported.
pub const MODULES: [&str; 4] = ["dask", "distributed", "rioxarray", "pystac"];

/// The file that marks a finished environment (the `dev` script writes the same).
const COMPLETE: &str = ".complete";

/// What stops chunkscope from using a Python for Dask, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum PythonError {
    #[error(
        "no Python environment for Dask yet: run `chunkscope dask setup` once (it installs the \
         pinned dask, distributed, rioxarray and pystac from PyPI into \"{venv}\"), or pass \
         --python PATH to use an interpreter that has them"
    )]
    NotSetUp { venv: PathBuf },
    #[error(
        "cannot start the Python \"{python}\": {source}; install Python 3 (with its venv \
         module) or pass --python PATH"
    )]
    Start {
        python: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the Python \"{python}\" lacks {missing}, which the lesson's Dask code imports; \
         fix it with `{fix}`, or run `chunkscope dask setup` for an environment with the \
         pinned versions"
    )]
    Missing {
        python: PathBuf,
        /// Module names, comma-separated.
        missing: String,
        fix: String,
    },
    #[error("\"{python}\" did not answer as a Python 3 interpreter: {detail}")]
    NotPython { python: PathBuf, detail: String },
    #[error(
        "`{command}` failed: {detail}; the Dask environment needs Python 3 with its venv module \
         (on Debian/Ubuntu: apt-get install python3-venv)"
    )]
    Venv { command: String, detail: String },
    #[error(
        "pip could not install the pinned versions into \"{venv}\": {detail}; it needs PyPI \
         (or a mirror in pip's configuration). chunkscope's own engine works without it"
    )]
    Pip { venv: PathBuf, detail: String },
    #[error("cannot prepare \"{path}\"")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A Python checked to import what the lesson's code needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonEnv {
    pub python: PathBuf,
    /// The interpreter's version, e.g. `3.11.7`.
    pub version: String,
    /// Each of [`MODULES`] with its version.
    pub modules: BTreeMap<String, String>,
}

impl PythonEnv {
    /// `dask 2026.8.0, distributed 2026.8.0, ...`.
    pub fn describe(&self) -> String {
        let modules: Vec<String> = MODULES
            .iter()
            .filter_map(|m| Some(format!("{m} {}", self.modules.get(*m)?)))
            .collect();
        format!("Python {}; {}", self.version, modules.join(", "))
    }
}

/// The first 16 hex digits of the SHA-256 of [`REQUIREMENTS`], as the `dev` script names
/// the environment.
pub fn requirements_key() -> String {
    let digest = Sha256::digest(REQUIREMENTS.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The folder of the pinned environment: `<cache>/chunkscope/dask-venv-<key>`.
pub fn venv_dir() -> PathBuf {
    dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("chunkscope")
        .join(format!("dask-venv-{}", requirements_key()))
}

/// The interpreter inside a virtual environment.
fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

/// The Python to use: `asked` if given, else the pinned environment if it was set up;
/// checked either way.
pub fn resolve(asked: Option<&Path>) -> Result<PythonEnv, PythonError> {
    match asked {
        Some(python) => check(python),
        None => {
            let venv = venv_dir();
            if !venv.join(COMPLETE).is_file() {
                return Err(PythonError::NotSetUp { venv });
            }
            check(&venv_python(&venv))
        }
    }
}

/// Prints a JSON object: the interpreter's version and each module's version, or null
/// when it does not import.
const PROBE: &str = r#"
import importlib, json, sys
found = {}
for name in sys.argv[1:]:
    try:
        found[name] = str(getattr(importlib.import_module(name), "__version__", "?"))
    except Exception:
        found[name] = None
print(json.dumps({"python": sys.version.split()[0], "modules": found}))
"#;

/// Checks that `python` runs and imports every one of [`MODULES`].
pub fn check(python: &Path) -> Result<PythonEnv, PythonError> {
    let output = Command::new(python)
        .arg("-c")
        .arg(PROBE)
        .args(MODULES)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| PythonError::Start {
            python: python.to_path_buf(),
            source,
        })?;
    let not_python = |detail: String| PythonError::NotPython {
        python: python.to_path_buf(),
        detail,
    };
    if !output.status.success() {
        return Err(not_python(tail(&output)));
    }
    let answer = parse_probe(&String::from_utf8_lossy(&output.stdout)).map_err(not_python)?;
    let missing: Vec<&str> = MODULES
        .iter()
        .copied()
        .filter(|m| !answer.modules.contains_key(*m))
        .collect();
    if !missing.is_empty() {
        return Err(PythonError::Missing {
            python: python.to_path_buf(),
            missing: missing.join(", "),
            fix: format!("{} -m pip install {}", python.display(), missing.join(" ")),
        });
    }
    Ok(PythonEnv {
        python: python.to_path_buf(),
        ..answer
    })
}

/// The probe's answer; modules that did not import are left out.
fn parse_probe(stdout: &str) -> Result<PythonEnv, String> {
    let line = stdout.lines().last().unwrap_or("");
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|_| format!("it printed {:?}", short(stdout)))?;
    let version = value["python"]
        .as_str()
        .ok_or_else(|| "no version in its answer".to_string())?
        .to_string();
    let modules = value["modules"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    Ok(PythonEnv {
        python: PathBuf::new(),
        version,
        modules,
    })
}

/// Makes the pinned environment in [`venv_dir`] with `base` (e.g. `python3`) if it is not
/// there yet, then checks it. `say` hears each step. Idempotent: a finished environment is
/// only checked; an unfinished one (interrupted before `.complete`) is made again.
pub fn setup(base: &Path, say: &dyn Fn(&str)) -> Result<PythonEnv, PythonError> {
    let venv = venv_dir();
    if venv.join(COMPLETE).is_file() {
        say(&format!("the environment \"{}\" is there", venv.display()));
        return check(&venv_python(&venv));
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PythonError::Io { path, source }
    };
    if venv.exists() {
        std::fs::remove_dir_all(&venv).map_err(io(&venv))?;
    }
    if let Some(parent) = venv.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    say(&format!(
        "making a virtual environment in \"{}\" with {}",
        venv.display(),
        base.display()
    ));
    let made = Command::new(base)
        .args(["-m", "venv"])
        .arg(&venv)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| PythonError::Start {
            python: base.to_path_buf(),
            source,
        })?;
    if !made.status.success() {
        let _ = std::fs::remove_dir_all(&venv);
        return Err(PythonError::Venv {
            command: format!("{} -m venv {}", base.display(), venv.display()),
            detail: tail(&made),
        });
    }
    let requirements = venv.join("requirements.txt");
    std::fs::write(&requirements, REQUIREMENTS).map_err(io(&requirements))?;
    say(
        "installing the pinned dask, distributed, rioxarray, pystac and their dependencies from PyPI (a minute or two)",
    );
    let python = venv_python(&venv);
    let installed = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(&requirements)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| PythonError::Start {
            python: python.clone(),
            source,
        })?;
    if !installed.status.success() {
        let _ = std::fs::remove_dir_all(&venv);
        return Err(PythonError::Pip {
            venv,
            detail: tail(&installed),
        });
    }
    let env = check(&python)?;
    let marker = venv.join(COMPLETE);
    std::fs::write(&marker, b"").map_err(io(&marker))?;
    Ok(env)
}

/// The last lines of a child's stderr (or stdout), for an error message.
pub(crate) fn tail(output: &Output) -> String {
    let err = String::from_utf8_lossy(&output.stderr);
    let text = if err.trim().is_empty() {
        String::from_utf8_lossy(&output.stdout).into_owned()
    } else {
        err.into_owned()
    };
    let lines: Vec<&str> = text.trim().lines().collect();
    let start = lines.len().saturating_sub(6);
    let shown = lines[start..].join("\n");
    if shown.is_empty() {
        format!("it exited with {}", output.status)
    } else {
        shown
    }
}

fn short(text: &str) -> String {
    text.trim().chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_the_dev_scripts() {
        // `sha256sum tests/dask/requirements.txt | cut -c1-16` computed independently.
        let key = requirements_key();
        assert_eq!(key.len(), 16);
        assert!(key.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(venv_dir().ends_with(format!("chunkscope/dask-venv-{key}")));
        assert!(REQUIREMENTS.contains("dask==") && REQUIREMENTS.contains("rioxarray=="));
    }

    #[test]
    fn the_probe_answer_keeps_the_modules_that_import() {
        let env = parse_probe(
            "noise\n{\"python\": \"3.11.7\", \"modules\": {\"dask\": \"2026.8.0\", \
             \"distributed\": null, \"rioxarray\": \"0.19.0\", \"pystac\": \"1.15.2\"}}\n",
        )
        .unwrap();
        assert_eq!(env.version, "3.11.7");
        assert_eq!(env.modules.len(), 3);
        assert!(!env.modules.contains_key("distributed"));
        assert!(parse_probe("Traceback").is_err());
    }

    #[test]
    fn a_python_without_dask_is_refused_with_the_fix() {
        let Ok(python) = which("python3") else {
            return;
        };
        // The system Python of a test machine may have some of the modules; a name that
        // cannot exist shows the message's shape either way.
        match check(&python) {
            Ok(env) => assert_eq!(env.modules.len(), MODULES.len()),
            Err(PythonError::Missing { missing, fix, .. }) => {
                assert!(!missing.is_empty());
                assert!(fix.contains("-m pip install"), "{fix}");
            }
            Err(other) => panic!("unexpected: {other}"),
        }
        let err = check(Path::new("/nonexistent/python3")).unwrap_err();
        assert!(matches!(err, PythonError::Start { .. }), "{err}");
    }

    fn which(name: &str) -> Result<PathBuf, ()> {
        std::env::var_os("PATH")
            .and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|p| p.join(name))
                    .find(|p| p.is_file())
            })
            .ok_or(())
    }
}
