//! A real SMTP server for the mail tests: aiosmtpd writing every message into a maildir.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// aiosmtpd writing every message into a maildir.
pub struct Smtp {
    child: std::process::Child,
    pub port: u16,
    dir: PathBuf,
}

impl Smtp {
    pub fn start(dir: &Path) -> Option<Smtp> {
        if !super::tree::have_tools("mail", &["/usr/bin/python3"]) {
            return None;
        }
        let probe = Command::new("/usr/bin/python3")
            .args(["-c", "import aiosmtpd"])
            .status()
            .unwrap();
        if !probe.success() {
            assert!(
                std::env::var_os("CI").is_none(),
                "python3-aiosmtpd is missing in CI"
            );
            eprintln!("skipped: python3-aiosmtpd is not installed");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let maildir = dir.join("maildir");
        let child = Command::new("/usr/bin/python3")
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
                maildir.to_str().unwrap(),
            ])
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(Smtp {
            child,
            port,
            dir: maildir,
        })
    }

    pub fn messages(&self) -> Vec<String> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(rd) = std::fs::read_dir(self.dir.join(sub)) {
                for e in rd.flatten() {
                    out.push(std::fs::read_to_string(e.path()).unwrap_or_default());
                }
            }
        }
        out
    }

    pub fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(m) = self.messages().into_iter().find(|m| pred(m)) {
                return m;
            }
            assert!(
                Instant::now() < deadline,
                "no mail for {what}; got {:#?}",
                self.messages()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
