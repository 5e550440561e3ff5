//! The console's routes and the headers every answer carries.
//!
//! - `GET /console` redirects to `/console/` (relative, so a path prefix added by a reverse
//!   proxy survives), which serves the page; it is revalidated on every load (`no-cache` and
//!   a strong `ETag`) so a new build is picked up at once.
//! - `GET /console/assets/<version>/<file>` serves an embedded file, cached for a year and
//!   `immutable` when `<version>` is the current one. A page of an older build (a rolling
//!   deploy) still gets the current file, only not cached.
//!
//! Every answer carries a Content-Security-Policy that lets the page load its own scripts
//! and styles and connect to its own origin (REST, and the GraphQL WebSocket, which `'self'`
//! covers for `ws:`/`wss:` on the same host) and nothing else: no inline script or style,
//! no framing, no form submission to anywhere.

use actix_web::{
    HttpRequest, HttpResponse, HttpResponseBuilder, guard,
    http::{
        StatusCode,
        header::{self, HeaderValue},
    },
    web,
};

use crate::assets::{BUNDLE, Bundle, HTML};

/// The policy every console answer carries.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// Versioned assets never change under their URL.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// The page (and assets of another version) are checked with the server on every use.
const REVALIDATE: &str = "no-cache";

/// Mounts `/console` and `/console/...`. Public: the page holds no data; the API it calls
/// authenticates every request.
pub fn routes(config: &mut web::ServiceConfig) {
    let read = || web::route().guard(guard::Any(guard::Get()).or(guard::Head()));
    config.route("/console", read().to(redirect)).service(
        web::scope("/console")
            .route("/", read().to(index))
            .route("/assets/{version}/{name}", read().to(asset))
            .default_service(web::to(not_found)),
    );
}

async fn redirect() -> HttpResponse {
    secured(HttpResponse::PermanentRedirect())
        .insert_header((header::LOCATION, "console/"))
        .finish()
}

async fn index(request: HttpRequest) -> HttpResponse {
    let bundle: &'static Bundle = &BUNDLE;
    answer(&request, HTML, &bundle.index, REVALIDATE, &bundle.version)
}

async fn asset(request: HttpRequest, path: web::Path<(String, String)>) -> HttpResponse {
    let (version, name) = path.into_inner();
    let Some(file) = Bundle::file(&name) else {
        return not_found().await;
    };
    let cache = if version == BUNDLE.version {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    answer(
        &request,
        file.content_type,
        file.body,
        cache,
        &BUNDLE.version,
    )
}

async fn not_found() -> HttpResponse {
    secured(HttpResponse::NotFound())
        .content_type("text/plain; charset=utf-8")
        .body("Not found: the console is at /console/\n")
}

/// `200` with `body`, or `304` when the client's copy is current.
fn answer(
    request: &HttpRequest,
    content_type: &'static str,
    body: &'static [u8],
    cache: &'static str,
    version: &str,
) -> HttpResponse {
    let etag = format!("\"{version}\"");
    let fresh = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .is_some_and(|value| matches_etag(value, &etag));
    let mut response = secured(HttpResponse::build(if fresh {
        StatusCode::NOT_MODIFIED
    } else {
        StatusCode::OK
    }));
    response
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache));
    if fresh {
        response.finish()
    } else {
        response.content_type(content_type).body(body)
    }
}

/// Whether an `If-None-Match` list names `etag` (weak comparison, as RFC 9110 says for it).
fn matches_etag(value: &HeaderValue, etag: &str) -> bool {
    value.to_str().is_ok_and(|list| {
        list.split(',')
            .map(|tag| tag.trim().trim_start_matches("W/"))
            .any(|tag| tag == "*" || tag == etag)
    })
}

/// The headers every console answer carries.
fn secured(mut response: HttpResponseBuilder) -> HttpResponseBuilder {
    response
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::CROSS_ORIGIN_OPENER_POLICY, "same-origin"))
        .insert_header((header::CROSS_ORIGIN_RESOURCE_POLICY, "same-origin"))
        .insert_header((
            header::PERMISSIONS_POLICY,
            "camera=(), microphone=(), geolocation=(), payment=()",
        ));
    response
}

#[cfg(test)]
mod tests {
    use actix_web::{App, body::to_bytes, http::Method, test as actix_test};

    use super::*;

    async fn call(method: Method, path: &str, etag: Option<&str>) -> HttpResponse {
        let app = actix_test::init_service(App::new().configure(routes)).await;
        let mut request = actix_test::TestRequest::default().method(method).uri(path);
        if let Some(etag) = etag {
            request = request.insert_header((header::IF_NONE_MATCH, etag));
        }
        let response = actix_test::call_service(&app, request.to_request()).await;
        response.into_parts().1
    }

    fn header<'a>(response: &'a HttpResponse, name: &header::HeaderName) -> &'a str {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no {name} header"))
    }

    #[actix_web::test]
    async fn bare_path_redirects_to_the_page() {
        let response = call(Method::GET, "/console", None).await;
        assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(header(&response, &header::LOCATION), "console/");
    }

    #[actix_web::test]
    async fn page_is_revalidated_and_names_the_current_assets() {
        let response = call(Method::GET, "/console/", None).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, &header::CONTENT_TYPE), HTML);
        assert_eq!(header(&response, &header::CACHE_CONTROL), "no-cache");
        let csp = header(&response, &header::CONTENT_SECURITY_POLICY);
        assert!(csp.contains("connect-src 'self'"), "{csp}");
        assert!(csp.contains("script-src 'self';"), "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
        let etag = header(&response, &header::ETAG).to_owned();
        let body = to_bytes(response.into_body()).await.unwrap();
        let body = std::str::from_utf8(&body).unwrap();
        assert!(body.contains(&format!("assets/{}/main.js", BUNDLE.version)));

        let again = call(Method::GET, "/console/", Some(&etag)).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(header(&again, &header::ETAG), etag);
    }

    #[actix_web::test]
    async fn current_assets_are_immutable_with_their_media_type() {
        let path = format!("/console/assets/{}/main.js", BUNDLE.version);
        let response = call(Method::GET, &path, None).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            header(&response, &header::CONTENT_TYPE),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(header(&response, &header::CACHE_CONTROL), IMMUTABLE);
        assert_eq!(
            header(&response, &header::X_CONTENT_TYPE_OPTIONS),
            "nosniff"
        );

        let css = format!("/console/assets/{}/console.css", BUNDLE.version);
        let response = call(Method::HEAD, &css, None).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            header(&response, &header::CONTENT_TYPE),
            "text/css; charset=utf-8"
        );
    }

    #[actix_web::test]
    async fn an_older_build_gets_current_files_uncached() {
        let response = call(
            Method::GET,
            "/console/assets/0123456789abcdef/main.js",
            None,
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, &header::CACHE_CONTROL), "no-cache");
    }

    #[actix_web::test]
    async fn unknown_paths_and_methods_are_refused() {
        for path in [
            "/console/nope",
            "/console/assets/x/nope.js",
            "/console/assets/x/../../Cargo.toml",
        ] {
            let response = call(Method::GET, path, None).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
            assert!(
                response
                    .headers()
                    .contains_key(header::CONTENT_SECURITY_POLICY)
            );
        }
        let response = call(Method::POST, "/console/", None).await;
        assert!(response.status().is_client_error());
    }

    #[test]
    fn if_none_match_lists_are_read() {
        let etag = "\"abc\"";
        for (value, fresh) in [
            ("\"abc\"", true),
            ("W/\"abc\"", true),
            ("\"x\", \"abc\"", true),
            ("*", true),
            ("\"abcd\"", false),
        ] {
            assert_eq!(
                matches_etag(&HeaderValue::from_static(value), etag),
                fresh,
                "{value}"
            );
        }
    }
}
