//! Requests `object_store` has no call for, made with its own SigV4 signer and HTTP client:
//! a write that carries Object Lock retention, retention set on one version of an object, and
//! the deletion of one version (what Object Lock refuses until the retention ends). Retention
//! is always COMPLIANCE: GOVERNANCE can be lifted by any key with the bypass right, so it would
//! not keep points from the repository's own keys.

use super::store::{Put, S3Error, S3Store};
use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use md5::Digest as _;
use object_store::aws::AwsAuthorizer;
use object_store::client::HttpRequest;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// What S3 leaves unencoded in a key's path: unreserved characters and the separator.
const KEY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');
/// A query value: unreserved characters only.
pub(super) const VALUE: &AsciiSet = &KEY.add(b'/');

/// An object written: its ETag and, on a versioned bucket, its version id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub etag: String,
    pub version: Option<String>,
}

/// A response read whole.
pub(super) struct Answer {
    pub(super) status: u16,
    headers: http::HeaderMap,
    pub(super) body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        let v = self.headers.get(name)?.to_str().ok()?;
        Some(v.to_string())
    }

    /// The S3 error code of the body (`<Code>AccessDenied</Code>`), or the status.
    fn code(&self) -> String {
        let code = self
            .body
            .split_once("<Code>")
            .and_then(|(_, rest)| rest.split_once("</Code>"))
            .map(|(code, _)| code.to_string());
        code.unwrap_or_else(|| format!("HTTP {}", self.status))
    }

    pub(super) fn error(&self, what: &str) -> S3Error {
        let text = format!("{what}: {} ({})", self.code(), self.status);
        match (self.status, self.code().as_str()) {
            (_, "NoSuchBucket") => S3Error::NoBucket(text),
            (401 | 403, _) => S3Error::Denied(text),
            _ => S3Error::Other(text),
        }
    }
}

fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A `<Retention>` document as `GET ?retention` answers it.
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Retention {
    retain_until_date: DateTime<Utc>,
}

/// The `RetainUntilDate` of a `<Retention>` document (stores write it with or without
/// fractional seconds), read as the version listing is (`versions.rs`).
fn retain_until_date(xml: &str) -> Option<DateTime<Utc>> {
    let r: Retention = quick_xml::de::from_str(xml).ok()?;
    Some(r.retain_until_date)
}

/// The query that addresses the retention of one version.
fn retention_query(version: &str) -> String {
    format!(
        "retention=&versionId={}",
        utf8_percent_encode(version, VALUE)
    )
}

fn content_md5(body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(body))
}

impl S3Store {
    /// The URL of `name` (below the prefix), with `query` (already encoded) when not empty.
    fn object_url(&self, name: &str, query: &str) -> String {
        self.url(&self.location.key(name), query)
    }

    /// The URL of the bucket itself, with `query` (already encoded).
    pub(super) fn bucket_url(&self, query: &str) -> String {
        self.url("", query)
    }

    /// The URL of the whole key `key` (empty: the bucket), with `query` when not empty.
    fn url(&self, key: &str, query: &str) -> String {
        let key = utf8_percent_encode(key, KEY).to_string();
        let base = self.endpoint.url.trim_end_matches('/');
        let url = match self.endpoint.path_style {
            true => format!("{base}/{}/{key}", self.location.bucket),
            false => match base.split_once("://") {
                Some((scheme, host)) => format!("{scheme}://{}.{host}/{key}", self.location.bucket),
                None => format!("{base}/{key}"),
            },
        };
        match query {
            "" => url,
            q => format!("{url}?{q}"),
        }
    }

    /// Signs (every header given is signed) and sends one request; a failed connection or a
    /// 500, 502, 503 or 504 is tried again twice, after 0.5 and 1.5 s, as the crate does for
    /// its own requests (each request here is idempotent, or conditional). Each try is signed
    /// anew over the one body buffer.
    pub(super) fn send(
        &self,
        method: http::Method,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<Answer, S3Error> {
        let body = bytes::Bytes::from(body);
        let mut attempt = 0;
        loop {
            let request = self.signed(method.clone(), url, headers, body.clone())?;
            let answer = self.exchange(request, url);
            let transient = match &answer {
                Ok(a) => matches!(a.status, 500 | 502 | 503 | 504),
                Err(_) => true,
            };
            if !transient || attempt == 2 {
                return answer;
            }
            attempt += 1;
            std::thread::sleep(std::time::Duration::from_millis(500 * (2 * attempt - 1)));
        }
    }

    /// The request, signed with SigV4.
    fn signed(
        &self,
        method: http::Method,
        url: &str,
        headers: &[(&str, String)],
        body: bytes::Bytes,
    ) -> Result<HttpRequest, S3Error> {
        let mut builder = http::Request::builder().method(method).uri(url);
        for (name, value) in headers {
            builder = builder.header(*name, value);
        }
        let mut request: HttpRequest = builder
            .body(body.into())
            .map_err(|e| S3Error::Other(format!("request to {url}: {e}")))?;
        AwsAuthorizer::new(&self.credential, "s3", &self.endpoint.region)
            .with_sign_payload(false)
            .try_authorize(&mut request, None)
            .map_err(|e| S3Error::Other(format!("signing a request: {e}")))?;
        Ok(request)
    }

    /// Sends `request` and reads the whole answer; `Err` only when no answer came.
    fn exchange(&self, request: HttpRequest, url: &str) -> Result<Answer, S3Error> {
        self.rt().block_on(async {
            let response = self
                .http
                .execute(request)
                .await
                .map_err(|e| S3Error::Other(format!("{url}: {e}")))?;
            let (parts, body) = response.into_parts();
            let body = body.bytes().await.unwrap_or_default();
            Ok(Answer {
                status: parts.status.as_u16(),
                headers: parts.headers,
                body: String::from_utf8_lossy(&body).into_owned(),
            })
        })
    }

    /// Writes `data` at `name` under COMPLIANCE retention until `until`, in one request, so the
    /// object is never there unprotected. `Ok(None)` when the condition of `mode` did not hold.
    pub fn put_retained(
        &self,
        name: &str,
        data: Vec<u8>,
        mode: Put<'_>,
        until: DateTime<Utc>,
    ) -> Result<Option<Written>, S3Error> {
        let mut headers = vec![
            ("content-md5", content_md5(&data)),
            ("x-amz-object-lock-mode", "COMPLIANCE".to_string()),
            ("x-amz-object-lock-retain-until-date", timestamp(until)),
        ];
        match mode {
            Put::Overwrite => {}
            Put::Create => headers.push(("if-none-match", "*".to_string())),
            Put::IfMatch(etag) => headers.push(("if-match", etag.to_string())),
        }
        let a = self.send(
            http::Method::PUT,
            &self.object_url(name, ""),
            &headers,
            data,
        )?;
        match a.status {
            200..=299 => Ok(Some(Written {
                etag: a.header("etag").unwrap_or_default(),
                version: a.header("x-amz-version-id"),
            })),
            // 409: a concurrent conditional write won (S3 asks the loser to retry).
            304 | 409 | 412 => Ok(None),
            _ => Err(a.error(&format!("writing {name} under Object Lock retention"))),
        }
    }

    /// Puts COMPLIANCE retention until `until` on `version` of `name`.
    pub fn retain(&self, name: &str, version: &str, until: DateTime<Utc>) -> Result<(), S3Error> {
        let body = format!(
            "<Retention xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Mode>COMPLIANCE</Mode>\
             <RetainUntilDate>{}</RetainUntilDate></Retention>",
            timestamp(until)
        )
        .into_bytes();
        let query = retention_query(version);
        let headers = [("content-md5", content_md5(&body))];
        let a = self.send(
            http::Method::PUT,
            &self.object_url(name, &query),
            &headers,
            body,
        )?;
        match a.status {
            200..=299 => Ok(()),
            _ => Err(a.error(&format!("setting Object Lock retention on {name}"))),
        }
    }

    /// Until when `version` of `name` is retained; `None` when it has no retention.
    pub fn retained_until(
        &self,
        name: &str,
        version: &str,
    ) -> Result<Option<DateTime<Utc>>, S3Error> {
        let query = retention_query(version);
        let a = self.send(
            http::Method::GET,
            &self.object_url(name, &query),
            &[],
            Vec::new(),
        )?;
        match a.status {
            200..=299 => retain_until_date(&a.body).map(Some).ok_or_else(|| {
                S3Error::Other(format!("the retention of {name} has no date: {}", a.body))
            }),
            404 => Ok(None),
            _ => Err(a.error(&format!("reading the Object Lock retention of {name}"))),
        }
    }

    /// Deletes `version` of `name` for good. `Ok(false)` when the store refuses because the
    /// version is under retention (`AccessDenied`), which is what Object Lock promises.
    pub fn delete_version(&self, name: &str, version: &str) -> Result<bool, S3Error> {
        let query = format!("versionId={}", utf8_percent_encode(version, VALUE));
        let a = self.send(
            http::Method::DELETE,
            &self.object_url(name, &query),
            &[],
            Vec::new(),
        )?;
        match (a.status, a.code().as_str()) {
            (200..=299, _) => Ok(true),
            (403, "AccessDenied") => Ok(false),
            _ => Err(a.error(&format!("deleting a version of {name}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_versions_are_encoded_as_s3_signs_them() {
        assert_eq!(
            utf8_percent_encode("job a/.data/x+y~z_1.tar", KEY).to_string(),
            "job%20a/.data/x%2By~z_1.tar"
        );
        assert_eq!(
            utf8_percent_encode("3/L4kq+tw=", VALUE).to_string(),
            "3%2FL4kq%2Btw%3D"
        );
        assert_eq!(
            timestamp(DateTime::from_timestamp(1_800_000_000, 5).unwrap()),
            "2027-01-15T08:00:00Z"
        );
        // RFC 1864: base64 of the MD5 of the body (d41d8cd9… for none).
        assert_eq!(content_md5(b""), "1B2M2Y8AsgTpgAmY7PhCfg==");
    }

    #[test]
    fn retention_dates_are_read_with_or_without_fractions() {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        for date in [
            "2027-01-15T08:00:00Z",
            "2027-01-15T08:00:00.000Z",
            " 2027-01-15T09:00:00+01:00",
        ] {
            let xml = format!(
                "<Retention><Mode>COMPLIANCE</Mode><RetainUntilDate>{date}</RetainUntilDate></Retention>"
            );
            assert_eq!(retain_until_date(&xml), Some(at), "{date}");
        }
        for bad in [
            "<Retention><Mode>COMPLIANCE</Mode></Retention>",
            "<RetainUntilDate>soon</RetainUntilDate>",
        ] {
            assert_eq!(retain_until_date(bad), None, "{bad}");
        }
    }
}
