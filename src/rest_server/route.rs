//! URL paths to what they name, as rest-server 0.14 routes them. Pure: no I/O,
//! no authentication; [`super::http`] decides what each method does with a route.

use super::repo;
use hyper::StatusCode;

/// A request path taken apart: the repository folder and what inside it.
#[derive(Debug, PartialEq, Eq)]
pub struct Route {
    /// The repository's folder names below `--path`, at most two; empty for the root.
    pub folder: Vec<String>,
    pub resource: Resource,
}

/// What a path names inside its repository.
#[derive(Debug, PartialEq, Eq)]
pub enum Resource {
    /// `{repo}/`: the repository itself (created by `POST ?create=true`).
    Repo,
    /// `{repo}/config`.
    Config,
    /// `{repo}/{type}/`: a listing.
    List(&'static str),
    /// `{repo}/{type}/{id}`, the id already checked.
    Object(&'static str, String),
    /// Nothing the protocol knows (a wrong type, a bad id, too deep): 404.
    Unknown,
}

impl Route {
    /// The folder as a path relative to `--path`.
    pub fn repo(&self) -> String {
        self.folder.join("/")
    }

    /// rest-server's `repo` metrics label: the folder names joined without separator.
    pub fn label(&self) -> String {
        self.folder.concat()
    }
}

/// Route the raw (still percent-encoded) path of a request. A bad escape, a NUL
/// or bytes that are not UTF-8 give 400; `.` and `..` segments, an empty folder
/// name or a path not starting with `/` give 404.
pub fn parse(raw_path: &str) -> Result<Route, StatusCode> {
    let path = percent_decode(raw_path).ok_or(StatusCode::BAD_REQUEST)?;
    if !path.starts_with('/') || path.split('/').any(|s| s == "." || s == "..") {
        return Err(StatusCode::NOT_FOUND);
    }
    let (folder, rest) = split_path(&path);
    if folder.iter().any(|f| f.is_empty()) {
        return Err(StatusCode::NOT_FOUND);
    }
    let folder = folder.into_iter().map(String::from).collect();
    Ok(Route { folder, resource: resource(rest) })
}

/// What `rest` (the path after the repository folder, starting with `/`) names.
fn resource(rest: &str) -> Resource {
    match rest {
        "/" => return Resource::Repo,
        "/config" => return Resource::Config,
        _ => {}
    }
    let Some((kind, id)) = rest.strip_prefix('/').and_then(|r| r.split_once('/')) else {
        return Resource::Unknown;
    };
    let Some(kind) = repo::TYPES.iter().copied().find(|k| *k == kind) else {
        return Resource::Unknown;
    };
    if id.is_empty() {
        Resource::List(kind)
    } else if repo::valid_id(id) {
        Resource::Object(kind, id.to_string())
    } else {
        Resource::Unknown
    }
}

/// Decode `%XX` escapes; None for a bad escape, a NUL or bytes that are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    if out.contains(&0) {
        return None;
    }
    String::from_utf8(out).ok()
}

/// rest-server's split of a URL path into the repository folder (at most two
/// levels, stopping at an object type or `config`) and the rest.
fn split_path(path: &str) -> (Vec<&str>, &str) {
    const MAX_DEPTH: usize = 2;
    let parts: Vec<&str> = path.splitn(MAX_DEPTH + 2, '/').collect();
    let mut folder = Vec::new();
    if parts.len() >= 2 {
        for name in &parts[1..parts.len() - 1] {
            if repo::TYPES.contains(name) || *name == "config" {
                break;
            }
            folder.push(*name);
        }
    }
    if folder.is_empty() {
        return (folder, path);
    }
    let prefix = 1 + folder.iter().map(|f| f.len() + 1).sum::<usize>() - 1;
    (folder, &path[prefix..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(folder: &[&str], resource: Resource) -> Result<Route, StatusCode> {
        Ok(Route { folder: folder.iter().map(|s| s.to_string()).collect(), resource })
    }

    #[test]
    fn splits_like_rest_server() {
        assert_eq!(split_path("/"), (vec![], "/"));
        assert_eq!(split_path("/config"), (vec![], "/config"));
        assert_eq!(split_path("/data/"), (vec![], "/data/"));
        assert_eq!(split_path("/a/"), (vec!["a"], "/"));
        assert_eq!(split_path("/a/b/keys/x"), (vec!["a", "b"], "/keys/x"));
        assert_eq!(split_path("/a/b/c/"), (vec!["a", "b"], "/c/"));
        assert_eq!(split_path("/a/config"), (vec!["a"], "/config"));
    }

    #[test]
    fn routes() {
        let id = "0f".repeat(32);
        assert_eq!(parse("/"), route(&[], Resource::Repo));
        assert_eq!(parse("/config"), route(&[], Resource::Config));
        assert_eq!(parse("/u/r/"), route(&["u", "r"], Resource::Repo));
        assert_eq!(parse("/u/config"), route(&["u"], Resource::Config));
        assert_eq!(parse("/u/data/"), route(&["u"], Resource::List("data")));
        assert_eq!(parse("/u/r/locks/"), route(&["u", "r"], Resource::List("locks")));
        assert_eq!(parse(&format!("/keys/{id}")), route(&[], Resource::Object("keys", id.clone())));
        assert_eq!(parse(&format!("/a/b/data/{id}")), route(&["a", "b"], Resource::Object("data", id.clone())));
        assert_eq!(parse(&format!("/a/%64ata/{id}")), route(&["a"], Resource::Object("data", id.clone())));
        assert_eq!(parse(&format!("/data/{}", id.to_uppercase())), route(&[], Resource::Unknown));
        assert_eq!(parse(&format!("/data/{}", &id[..63])), route(&[], Resource::Unknown));
        assert_eq!(parse("/blobs/x"), route(&["blobs"], Resource::Unknown));
        assert_eq!(parse("/data/x/"), route(&[], Resource::Unknown));
        assert_eq!(parse("/a/b/c/config"), route(&["a", "b"], Resource::Unknown));
        assert_eq!(parse("/a/b"), route(&["a"], Resource::Unknown));
    }

    #[test]
    fn refusals() {
        assert_eq!(parse("/%zz/config"), Err(StatusCode::BAD_REQUEST));
        assert_eq!(parse("/%00/config"), Err(StatusCode::BAD_REQUEST));
        assert_eq!(parse("/%ff/config"), Err(StatusCode::BAD_REQUEST));
        assert_eq!(parse("/../x/config"), Err(StatusCode::NOT_FOUND));
        assert_eq!(parse("/%2e%2E/x/config"), Err(StatusCode::NOT_FOUND));
        assert_eq!(parse("/a/./config"), Err(StatusCode::NOT_FOUND));
        assert_eq!(parse("//config"), Err(StatusCode::NOT_FOUND));
        assert_eq!(parse("config"), Err(StatusCode::NOT_FOUND));
    }

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("/a%2e%2E/b").as_deref(), Some("/a../b"));
        assert_eq!(percent_decode("/%2e%2e/").as_deref(), Some("/../"));
        assert_eq!(percent_decode("/%00"), None);
        assert_eq!(percent_decode("/%zz"), None);
        assert_eq!(percent_decode("/%4"), None);
    }
}
