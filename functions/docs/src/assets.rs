//! The vendored Swagger UI and ReDoc files, embedded gzip-compressed by `build.rs`, served under
//! [`DOCS_ASSETS_URL`](solarhub_shared::openapi::DOCS_ASSETS_URL) with their version in the path.

use solarhub_shared::http::Response;

/// (path under the assets URL, content type, gzip bytes), written by build.rs.
static ASSETS: &[(&str, &str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/assets.rs"));

pub struct Asset {
    content_type: &'static str,
    gzip: &'static [u8],
}

/// `swagger-ui-dist@5.35.0/swagger-ui-bundle.js` and the like.
pub fn find(name: &str) -> Option<Asset> {
    ASSETS
        .iter()
        .find(|(path, _, _)| *path == name)
        .map(|&(_, content_type, gzip)| Asset { content_type, gzip })
}

impl Asset {
    /// The file, gzip-encoded when the client accepts it (browsers do), else inflated here.
    pub fn response(&self, accept_encoding: Option<&str>) -> Response {
        let mut response = if accepts_gzip(accept_encoding) {
            let mut r = Response::new(200, self.content_type, self.gzip);
            r.set_header("content-encoding", "gzip");
            r
        } else {
            match inflate(self.gzip) {
                Some(plain) => Response::new(200, self.content_type, plain),
                None => {
                    return Response::error(&solarhub_shared::error::internal(
                        "docs asset",
                        &"embedded gzip is corrupt",
                    ))
                }
            }
        };
        // The version is in the path, so a file never changes under its URL.
        response.set_header("cache-control", "public, max-age=31536000, immutable");
        response.set_header("vary", "accept-encoding");
        response
    }
}

/// Whether `Accept-Encoding` allows gzip: listed (or `*`) without `q=0`.
fn accepts_gzip(header: Option<&str>) -> bool {
    let Some(header) = header else {
        return false;
    };
    header.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or("");
        let refused = parts.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q == 0.0)
        });
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
    })
}

/// The payload of a gzip member as build.rs writes it: a 10-byte header without optional fields,
/// raw DEFLATE, an 8-byte trailer (CRC-32, size).
fn inflate(gzip: &[u8]) -> Option<Vec<u8>> {
    if gzip.len() < 18 || gzip[..3] != [0x1f, 0x8b, 8] || gzip[3] != 0 {
        return None;
    }
    let body = &gzip[10..gzip.len() - 8];
    let plain = miniz_oxide::inflate::decompress_to_vec(body).ok()?;
    let size = u32::from_le_bytes(gzip[gzip.len() - 4..].try_into().ok()?);
    (plain.len() as u32 == size).then_some(plain)
}
