//! The browser harness end to end: headless Chromium fills a form on a page served by a tiny
//! HTTP server inside the test, submits it, and the next page shows what was typed.

mod common;

use common::browser::Browser;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const FORM: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Form</title></head>
<body>
<form action="/echo" method="get">
  <input name="q" id="q">
  <button type="submit" id="send">Send</button>
</form>
</body></html>"#;

#[tokio::test(flavor = "multi_thread")]
async fn fills_a_form_and_reads_the_next_page() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(serve(stream));
        }
    });

    let browser = Browser::start().await;
    browser.goto(&format!("{base}/")).await;
    assert_eq!(browser.client.title().await.unwrap(), "Form");
    browser.fill("input[name=q]", "placeholder").await;
    browser
        .fill("input[name=q]", "Grüße & <b>hi</b> 100%")
        .await;
    browser.click("#send").await;
    assert_eq!(browser.text("#echo").await, "Grüße & <b>hi</b> 100%");
    assert_eq!(
        browser.client.current_url().await.unwrap().path(),
        "/echo",
        "the form was submitted"
    );
    browser.close().await;
    server.abort();
}

/// Answers one HTTP/1.1 request: `/` is the form, `/echo?q=…` shows q, anything else is 404.
async fn serve(mut stream: TcpStream) {
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    // Chromium may open connections it never uses: give up on those after a while.
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => request.extend_from_slice(&buf[..n]),
            _ => return,
        }
    }
    let request = String::from_utf8_lossy(&request);
    let target = request.split(' ').nth(1).unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let (status, body) = match path {
        "/" => ("200 OK", FORM.to_string()),
        "/echo" => {
            let q = query
                .split('&')
                .find_map(|pair| pair.strip_prefix("q="))
                .map(form_decode)
                .unwrap_or_default();
            (
                "200 OK",
                format!(
                    "<!doctype html><html><head><meta charset=\"utf-8\"><title>Echo</title></head>\
                     <body><p id=\"echo\">{}</p></body></html>",
                    html_escape(&q)
                ),
            )
        }
        _ => ("404 Not Found", "not found".to_string()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Decodes an `application/x-www-form-urlencoded` value (`+` is a space, `%XX` a byte).
fn form_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
