//! Embeds the vendored Swagger UI and ReDoc files (vendor/<package>@<version>/*.js, *.css; see
//! vendor/README.md) gzip-compressed: ~3 MB of JavaScript becomes ~0.8 MB of component, and
//! browsers take gzip as is. Writes `assets.rs`, a table of (path under the assets URL, content
//! type, gzip bytes).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

fn main() {
    // Read when the script runs, not baked in when it is compiled: cargo reuses a compiled
    // build script for a checkout at another path that shares the target dir (CI's clean
    // clones), and that path may be gone.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    let vendor = Path::new(&manifest_dir).join("vendor");
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap());
    println!("cargo:rerun-if-changed={}", vendor.display());
    let mut packages: Vec<_> = std::fs::read_dir(&vendor)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    packages.sort();
    let mut table = String::from("&[\n");
    for package in packages {
        let mut files: Vec<_> = std::fs::read_dir(&package)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for file in files {
            let content_type = match file.extension().and_then(|e| e.to_str()) {
                Some("js") => "text/javascript; charset=utf-8",
                Some("css") => "text/css; charset=utf-8",
                // Licences and notices stay in the repository; only what the pages load is served.
                _ => continue,
            };
            println!("cargo:rerun-if-changed={}", file.display());
            let name = format!(
                "{}/{}",
                package.file_name().unwrap().to_str().unwrap(),
                file.file_name().unwrap().to_str().unwrap()
            );
            let gz = out.join(format!("{}.gz", name.replace('/', "__")));
            // mtime 0 and no file name in the header: the same input gives the same bytes.
            let mut encoder = flate2::GzBuilder::new().mtime(0).write(
                std::fs::File::create(&gz).unwrap(),
                flate2::Compression::best(),
            );
            encoder.write_all(&std::fs::read(&file).unwrap()).unwrap();
            encoder.finish().unwrap();
            writeln!(
                table,
                "    ({name:?}, {content_type:?}, include_bytes!({:?})),",
                gz.display().to_string()
            )
            .unwrap();
        }
    }
    table.push_str("]\n");
    std::fs::write(out.join("assets.rs"), table).unwrap();
}
