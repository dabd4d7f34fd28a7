//! A manifest's Python components (`components.py`): the engine cannot run them, the Python
//! CDK can. The code travels with the parsed manifest under [`INJECTED_COMPONENTS_KEY`] (with
//! its checksums under [`INJECTED_CHECKSUMS_KEY`]) until the CDK executor moves both into the
//! config, which is where the CDK's `source-declarative-manifest` reads them from (and where
//! PyAirbyte's `DeclarativeExecutor` puts them).

use std::io::Read;

use serde_json::{Value, json};

/// The config key the CDK reads `components.py` from.
pub const INJECTED_COMPONENTS_KEY: &str = "__injected_components_py";
/// The config key of its checksums (`{"md5": …}`), which the CDK verifies before running it.
pub const INJECTED_CHECKSUMS_KEY: &str = "__injected_components_py_checksums";
/// The environment variable without which the CDK refuses to run injected code.
pub const ALLOW_CUSTOM_CODE_ENV: &str = "AIRBYTE_ENABLE_UNSAFE_CODE";

/// The md5 checksum the CDK checks the code against (hex, of its UTF-8 text).
pub fn md5_hex(code: &str) -> String {
    crate::interpolation::digest::hex(&crate::interpolation::digest::md5(code.as_bytes()))
}

/// Attaches `code` (a `components.py`) to `manifest` with its checksum.
pub fn attach(manifest: &mut Value, code: String) {
    if let Value::Object(map) = manifest {
        map.insert(
            INJECTED_CHECKSUMS_KEY.to_string(),
            json!({"md5": md5_hex(&code)}),
        );
        map.insert(INJECTED_COMPONENTS_KEY.to_string(), Value::String(code));
    }
}

/// Whether `manifest` carries a `components.py`.
pub fn attached(manifest: &Value) -> bool {
    manifest
        .get(INJECTED_COMPONENTS_KEY)
        .and_then(Value::as_str)
        .is_some_and(|c| !c.is_empty())
}

/// Takes the attached components (code and checksums) off `manifest`, for a runner that
/// does not use them.
pub fn detach(manifest: &mut Value) -> Option<(Value, Value)> {
    let map = manifest.as_object_mut()?;
    let code = map.remove(INJECTED_COMPONENTS_KEY)?;
    let checksums = map.remove(INJECTED_CHECKSUMS_KEY).unwrap_or(Value::Null);
    Some((code, checksums))
}

/// `components.py` out of a `components.zip` (how the registry serves them, beside the
/// manifest): its text, or why it cannot be read.
pub fn components_py_from_zip(data: &[u8]) -> std::result::Result<String, String> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(data))
        .map_err(|e| format!("it is not a zip archive ({e})"))?;
    let mut file = archive
        .by_name("components.py")
        .map_err(|_| "it has no components.py".to_string())?;
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(|e| format!("its components.py is not UTF-8 text ({e})"))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn code_rides_with_its_md5_and_comes_off() {
        let mut manifest = json!({"version": "6.0.0", "streams": []});
        assert!(!attached(&manifest));
        attach(&mut manifest, "x = 1\n".into());
        assert!(attached(&manifest));
        // The md5 of "x = 1\n", as Python's hashlib.md5(text.encode()).hexdigest() gives it.
        assert_eq!(
            manifest[INJECTED_CHECKSUMS_KEY]["md5"],
            "3253b41059cac6e987c5a5e9233ea5d0"
        );
        let (code, sums) = detach(&mut manifest).unwrap();
        assert_eq!(code, "x = 1\n");
        assert!(sums["md5"].is_string());
        assert_eq!(manifest, json!({"version": "6.0.0", "streams": []}));
    }

    #[test]
    fn components_come_out_of_their_zip() {
        let mut buffer = std::io::Cursor::new(Vec::new());
        {
            let mut z = zip::ZipWriter::new(&mut buffer);
            z.start_file("components.py", zip::write::SimpleFileOptions::default())
                .unwrap();
            z.write_all(b"class A: pass\n").unwrap();
            z.finish().unwrap();
        }
        assert_eq!(
            components_py_from_zip(buffer.get_ref()).unwrap(),
            "class A: pass\n"
        );
        assert!(components_py_from_zip(b"not a zip").is_err());
    }
}
