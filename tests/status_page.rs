//! The status page in real headless Chromium against the real daemon: log in, see the jobs
//! registered through the API, start a job and watch its progress bar complete, see a failed
//! run's error, no console errors. Screenshots land in `target/screenshots/`.

mod common;

use common::tree::{have_tools, noise, write};
use common::Daemon;
use headless_chrome::protocol::cdp::Page;
use headless_chrome::{Browser, LaunchOptions, Tab};
use serde_json::json;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";

/// Records console errors and uncaught exceptions before any page script runs.
const ERROR_TRAP: &str = r#"
window.__errors = [];
const origError = console.error;
console.error = (...a) => { window.__errors.push(a.map(String).join(" ")); origError(...a); };
window.addEventListener("error", (e) => window.__errors.push(String(e.message)));
window.addEventListener("unhandledrejection", (e) => window.__errors.push(String(e.reason)));
"#;

fn screenshot(tab: &Tab, name: &str) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("../screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = tab
        .capture_screenshot(Page::CaptureScreenshotFormatOption::Png, None, None, true)
        .unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

fn eval_string(tab: &Tab, js: &str) -> String {
    tab.evaluate(js, false)
        .unwrap()
        .value
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// Polls `js` (returning a string) until `pred` holds.
fn wait_js(tab: &Tab, js: &str, secs: u64, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let v = eval_string(tab, js);
        if pred(&v) {
            return v;
        }
        if Instant::now() > deadline {
            screenshot(tab, "timeout");
            panic!("timed out waiting for {what}; last value: {v:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn browser(profile: &Path) -> Browser {
    let args: Vec<&OsStr> = [
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    .iter()
    .map(OsStr::new)
    .collect();
    let opts = LaunchOptions::default_builder()
        .path(Some(PathBuf::from(CHROMIUM)))
        .sandbox(false)
        .headless(true)
        .window_size(Some((1280, 1000)))
        .user_data_dir(Some(profile.to_path_buf()))
        .idle_browser_timeout(Duration::from_secs(300))
        .args(args)
        .build()
        .unwrap();
    Browser::new(opts).expect("start chromium")
}

#[test]
fn status_page_shows_jobs_progress_and_failures() {
    if !have_tools("status page", &[CHROMIUM]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    // 24 MiB at 2 MiB/s: a run of about twelve seconds, long enough to watch.
    for i in 0..96 {
        write(&src.join(format!("f{i:03}.bin")), &noise(256 * 1024, i));
    }
    write(&src.join("sub/deep.txt"), b"found me\n");
    let d = Daemon::start(&[
        "--server-name",
        "web",
        "--extra-partition",
        src.to_str().unwrap(),
    ]);
    let register = |name: &str, extra: serde_json::Value| {
        let mut body = json!({
            "center": 1, "server": 1, "type": "full", "partition": [src],
            "individual": [{ "partition": src, "jobName": name }],
            "repository": { "type": "nfs", "path": repo },
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = d.post("/api/backups", body);
        assert_eq!(r.status, 201, "{}", r.body);
    };
    register(
        "slow",
        json!({ "networkLimit": 2, "compression": "not use",
                "schedule": {"type": 3, "basic": {"time": "03:00"}} }),
    );
    let scripts = common::script_dir();
    let script = scripts.path().join("fail.sh");
    std::fs::write(&script, "#!/bin/sh\necho disk not ready >&2\nexit 7\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    register(
        "broken",
        json!({ "scriptPath": script, "scriptRun": "before", "autoStart": "use" }),
    );

    let b = browser(&tmp.path().join("profile"));
    let tab = b.new_tab().unwrap();
    tab.call_method(Page::AddScriptToEvaluateOnNewDocument {
        source: ERROR_TRAP.into(),
        world_name: None,
        include_command_line_api: None,
        run_immediately: None,
    })
    .unwrap();
    tab.navigate_to(&d.base)
        .unwrap()
        .wait_until_navigated()
        .unwrap();

    // Login.
    tab.wait_for_element("#password").unwrap().click().unwrap();
    tab.type_str(&d.admin_password()).unwrap();
    screenshot(&tab, "01-login");
    tab.wait_for_element("#login-form button[type=submit]")
        .unwrap()
        .click()
        .unwrap();
    let jobs = wait_js(
        &tab,
        "Array.from(document.querySelectorAll('#jobs tbody tr[data-job]')).map(r => r.dataset.job).sort().join(',')",
        20,
        "the job table",
        |v| v == "broken,slow",
    );
    assert_eq!(jobs, "broken,slow");
    let row = eval_string(
        &tab,
        "document.querySelector('#jobs tr[data-job=slow]').innerText",
    );
    assert!(
        row.contains("[Basic] Start working at 03:00 every day."),
        "{row}"
    );
    assert!(row.contains("Scheduled"), "{row}");
    assert!(row.contains(src.to_str().unwrap()), "{row}");

    // The failed run stands out with its error.
    let failed = wait_js(
        &tab,
        "Array.from(document.querySelectorAll('#history tr.failed')).map(r => r.innerText).join('\\n')",
        30,
        "the failed run in the history",
        |v| v.contains("before-script"),
    );
    assert!(
        failed.contains("broken") && failed.contains("exit 7"),
        "{failed}"
    );
    let status = eval_string(
        &tab,
        "document.querySelector('#jobs tr[data-job=broken] .status').innerText",
    );
    assert_eq!(status, "Error");
    screenshot(&tab, "02-dashboard");

    // Start from the page and watch the bar advance to completion.
    tab.wait_for_element("#jobs tr[data-job=slow] button[aria-label='Start slow']")
        .unwrap()
        .click()
        .unwrap();
    let mut seen: Vec<u32> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = eval_string(
            &tab,
            "(() => { const b = document.querySelector('.run[data-job=slow] [role=progressbar]'); return b ? b.getAttribute('aria-valuenow') : ''; })()",
        );
        if let Ok(n) = v.parse::<u32>() {
            if seen.last() != Some(&n) {
                seen.push(n);
                if seen.len() == 2 {
                    screenshot(&tab, "03-running");
                    let meta = eval_string(
                        &tab,
                        "document.querySelector('.run[data-job=slow]').innerText",
                    );
                    assert!(meta.contains("ETA") && meta.contains("files"), "{meta}");
                }
            }
        }
        let st = eval_string(
            &tab,
            "document.querySelector('#jobs tr[data-job=slow] .status').innerText",
        );
        if st == "Scheduled" && !seen.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "run did not finish; progress seen {seen:?}, status {st}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(seen.len() >= 3, "the bar advanced in steps: {seen:?}");
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "monotonic: {seen:?}");
    let last = wait_js(
        &tab,
        "document.querySelector('#jobs tr[data-job=slow]').innerText",
        10,
        "the completed result",
        |v| v.contains("COMPLETE"),
    );
    assert!(
        last.contains("\t1\t") || last.contains(" 1 "),
        "one restore point: {last}"
    );
    screenshot(&tab, "04-complete");

    // The restore point browser: a page of the root (directories first), the next page, a
    // folder, a search, and a download link that gives the file's bytes.
    tab.wait_for_element("#jobs tr[data-job=slow] button[aria-label='Restore points of slow']")
        .unwrap()
        .click()
        .unwrap();
    let rows = "Array.from(document.querySelectorAll('#files tbody tr[data-path]')).map(r => r.dataset.path.split('/').pop()).join(',')";
    let first = wait_js(&tab, rows, 20, "the point's root", |v| {
        v.split(',').count() == 50
    });
    assert!(first.starts_with("sub,f000.bin,f001.bin"), "{first}");
    let pager = eval_string(&tab, "document.getElementById('browser-page').innerText");
    assert_eq!(pager, "Page 1 of 2 · 97 entries");
    screenshot(&tab, "05-browser");
    tab.wait_for_element("#browser-next")
        .unwrap()
        .click()
        .unwrap();
    let second = wait_js(&tab, rows, 10, "the second page", |v| {
        v.split(',').count() == 47
    });
    assert!(second.ends_with("f095.bin"), "{second}");
    tab.wait_for_element("#browser-prev")
        .unwrap()
        .click()
        .unwrap();
    wait_js(&tab, rows, 10, "the first page again", |v| {
        v.starts_with("sub,")
    });
    tab.wait_for_element("#files tr[data-path$='/sub'] button")
        .unwrap()
        .click()
        .unwrap();
    wait_js(&tab, rows, 10, "the folder", |v| v == "deep.txt");
    let crumbs = eval_string(&tab, "document.getElementById('browser-crumbs').innerText");
    assert!(crumbs.contains("sub"), "{crumbs}");
    tab.wait_for_element("#browser-crumbs li:first-child button")
        .unwrap()
        .click()
        .unwrap();
    wait_js(&tab, rows, 10, "back at the root", |v| {
        v.starts_with("sub,")
    });
    tab.wait_for_element("#browser-query")
        .unwrap()
        .click()
        .unwrap();
    tab.type_str("f09?.bin").unwrap();
    tab.press_key("Enter").unwrap();
    let found = wait_js(&tab, rows, 10, "the search", |v| v.split(',').count() == 6);
    assert_eq!(
        found,
        "f090.bin,f091.bin,f092.bin,f093.bin,f094.bin,f095.bin"
    );
    let file = format!("{}/f091.bin", src.to_str().unwrap());
    let link = tab
        .evaluate(&format!("downloadLink([{:?}])", file), true)
        .unwrap()
        .value
        .and_then(|v| v.as_str().map(String::from))
        .unwrap();
    let mut got = Vec::new();
    std::io::Read::read_to_end(
        &mut ureq::get(&format!("{}{link}", d.base))
            .call()
            .unwrap()
            .into_reader(),
        &mut got,
    )
    .unwrap();
    assert!(
        got == noise(256 * 1024, 91),
        "the downloaded bytes are the file's"
    );
    screenshot(&tab, "06-search");

    // No restore has proven the job yet: the table warns.
    let proof = eval_string(
        &tab,
        "document.querySelector('#jobs tr[data-job=slow] .proof').innerText",
    );
    assert!(proof.contains("never proven"), "{proof}");

    // Restore the whole point from the page into an empty directory, with verify.
    tab.wait_for_element("#browser-crumbs li:first-child button")
        .unwrap()
        .click()
        .unwrap();
    wait_js(&tab, rows, 10, "the root again", |v| v.starts_with("sub,"));
    tab.wait_for_element("#browser-restore")
        .unwrap()
        .click()
        .unwrap();
    let target = tmp.path().join("restored");
    tab.wait_for_element("#restore-target").unwrap();
    tab.evaluate(
        &format!(
            "document.getElementById('restore-target').value = {:?}",
            target.to_str().unwrap()
        ),
        false,
    )
    .unwrap();
    tab.wait_for_element("#restore-verify")
        .unwrap()
        .click()
        .unwrap();
    screenshot(&tab, "07-restore-dialog");
    tab.wait_for_element("#restore-start")
        .unwrap()
        .click()
        .unwrap();
    let done = wait_js(
        &tab,
        "document.getElementById('restore-status').innerText",
        60,
        "the restore to finish",
        |v| v.starts_with("Complete") || v.starts_with("Error"),
    );
    assert!(done.starts_with("Complete"), "{done}");
    let bar = eval_string(
        &tab,
        "document.querySelector('#restore-progress [role=progressbar]').getAttribute('aria-valuenow')",
    );
    assert_eq!(bar, "100");
    screenshot(&tab, "08-restored");
    common::tree::assert_same(
        &common::tree::snapshot(&src, &[]),
        &common::tree::snapshot(&target, &[]),
        "restored from the page",
    );
    let recent = wait_js(
        &tab,
        "Array.from(document.querySelectorAll('#recoveries tbody tr[data-recovery]')).map(r => r.innerText).join('\\n')",
        10,
        "the restore in the recent restores",
        |v| v.contains("COMPLETE"),
    );
    assert!(
        recent.contains("slow_Recovery_1") && recent.contains("ok"),
        "{recent}"
    );
    wait_js(
        &tab,
        "document.querySelector('#jobs tr[data-job=slow] .proof').dataset.proof",
        15,
        "the job proven restorable",
        |v| v == "ok",
    );

    let parts = eval_string(&tab, "document.querySelector('#partitions').innerText");
    assert!(
        parts.contains("broken") && parts.contains("slow"),
        "{parts}"
    );
    let repos = eval_string(&tab, "document.querySelector('#repositories').innerText");
    assert!(repos.contains(repo.to_str().unwrap()), "{repos}");

    // Logout forgets the token.
    tab.wait_for_element("#logout").unwrap().click().unwrap();
    wait_js(
        &tab,
        "String(document.getElementById('login').hidden)",
        5,
        "the login form",
        |v| v == "false",
    );
    assert_eq!(
        eval_string(&tab, "String(sessionStorage.getItem('zdm-token'))"),
        "null"
    );
    let errors = eval_string(&tab, "JSON.stringify(window.__errors)");
    assert_eq!(errors, "[]", "console errors");
}
