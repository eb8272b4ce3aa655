//! The browse index of a restore point: its catalog as a small SQLite file, one row per entry,
//! ordered by directory, directories first, then name, so one directory (or one page of it) is
//! an indexed range read however many entries the point has (RECOVERIES.md R9).
//!
//! The index is built once from the point's authenticated catalog (and, for `writtenIn`, the
//! catalogs of its chain) and kept in the state directory, never in the repository, so nothing
//! read from a share is trusted without its manifest's MAC. Its file name is derived from that
//! MAC: a point rewritten by a merge gets a new MAC, hence a new index.

use super::catalog::{catalog_reader, holder, stepped, Stepped};
use super::entry::Kind;
use super::repo::{self, Point};
use super::target::Target;
use super::EngineError;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};

/// Bumped when the table changes; older files are rebuilt.
const VERSION: i64 = 1;

/// One entry as a browser shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Relative to the partition root, as the catalog has it.
    pub path: Vec<u8>,
    pub name: Vec<u8>,
    pub kind: Kind,
    pub size: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
    pub link: Option<Vec<u8>>,
    pub has_children: bool,
    /// The point whose archive holds the content (for regular files and hard links).
    pub written_in: String,
    /// BLAKE3 of a regular file's content, when the catalog has it.
    pub hash: Option<String>,
}

/// What a listing asks for.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// The directory, relative to the partition root; `.` for the root.
    pub dir: Vec<u8>,
    /// With a pattern: entries anywhere below `dir` whose name matches (a substring, or a glob
    /// when it holds `*`, `?` or `[`); without: the entries of `dir` itself.
    pub search: Option<String>,
    pub kind: Option<Kind>,
    /// Names descending (directories still first).
    pub descending: bool,
    pub offset: u64,
    pub limit: u64,
}

pub struct PointIndex {
    conn: Connection,
}

pub fn kind_code(k: Kind) -> &'static str {
    match k {
        Kind::File => "f",
        Kind::Dir => "d",
        Kind::Symlink => "l",
        Kind::HardLink => "h",
        Kind::Fifo => "p",
        Kind::Char => "c",
        Kind::Block => "b",
    }
}

fn kind_of(code: &str) -> Kind {
    match code {
        "d" => Kind::Dir,
        "l" => Kind::Symlink,
        "h" => Kind::HardLink,
        "p" => Kind::Fifo,
        "c" => Kind::Char,
        "b" => Kind::Block,
        _ => Kind::File,
    }
}

fn sql_err(context: &str) -> impl Fn(rusqlite::Error) -> EngineError + '_ {
    move |e| {
        EngineError::Io(std::io::Error::other(format!(
            "browse index {context}: {e}"
        )))
    }
}

/// The index file of `point` inside `dir`.
pub fn file_for(dir: &Path, point: &Point) -> PathBuf {
    let mac = point.manifest.auth.as_deref().unwrap_or(&point.manifest.id);
    let h = blake3::hash(mac.as_bytes()).to_hex();
    dir.join(format!("{}-{}.sqlite", point.manifest.id, &h[..24]))
}

impl PointIndex {
    /// Opens the index of `point`, building it first when there is none (or an older format).
    /// `points` are the job's authenticated points (for the chain).
    pub fn open_or_build(
        dir: &Path,
        t: &dyn Target,
        points: &[Point],
        point: &Point,
        identity: Option<&age::x25519::Identity>,
    ) -> Result<PointIndex, EngineError> {
        let path = file_for(dir, point);
        if let Some(ix) = Self::open(&path)? {
            return Ok(ix);
        }
        std::fs::DirBuilder::new()
            .recursive(true)
            .create(dir)
            .map_err(|e| EngineError::io(dir.display(), e))?;
        let tmp = path.with_extension(format!("tmp-{:x}", rand::random::<u64>()));
        let built = Self::build(&tmp, t, points, point, identity);
        match built {
            Ok(()) => std::fs::rename(&tmp, &path).map_err(|e| EngineError::io(path.display(), e)),
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }?;
        Self::open(&path)?.ok_or_else(|| {
            EngineError::Corrupt(format!("browse index {} vanished", path.display()))
        })
    }

    fn open(path: &Path) -> Result<Option<PointIndex>, EngineError> {
        if !path.exists() {
            return Ok(None);
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sql_err("open"))?;
        let v: Option<i64> = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .optional()
            .map_err(sql_err("open"))?;
        if v != Some(VERSION) {
            drop(conn);
            let _ = std::fs::remove_file(path);
            return Ok(None);
        }
        Ok(Some(PointIndex { conn }))
    }

    fn build(
        path: &Path,
        t: &dyn Target,
        points: &[Point],
        point: &Point,
        identity: Option<&age::x25519::Identity>,
    ) -> Result<(), EngineError> {
        let chain = repo::chain(points, &point.manifest.id)?;
        let mut older: Vec<Stepped> = chain[..chain.len() - 1]
            .iter()
            .map(|p| stepped(t, p, identity))
            .collect::<Result<_, _>>()?;
        let mut conn = Connection::open(path).map_err(sql_err("create"))?;
        conn.execute_batch(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
             CREATE TABLE e (
                 path BLOB NOT NULL, parent BLOB NOT NULL, name BLOB NOT NULL,
                 is_dir INTEGER NOT NULL, kind TEXT NOT NULL, size INTEGER NOT NULL,
                 mode INTEGER NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL,
                 mtime INTEGER NOT NULL, link BLOB, written_in TEXT NOT NULL, h TEXT);",
        )
        .map_err(sql_err("create"))?;
        let tx = conn.transaction().map_err(sql_err("create"))?;
        {
            let mut ins = tx
                .prepare(
                    "INSERT INTO e (path, parent, name, is_dir, kind, size, mode, uid, gid, mtime,
                                    link, written_in, h)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                )
                .map_err(sql_err("write"))?;
            for e in catalog_reader(t, point, identity)? {
                let e = e?;
                let written_in = if e.w || !matches!(e.k, Kind::File | Kind::HardLink) {
                    &point.manifest.id
                } else {
                    match holder(&mut older, &e)? {
                        Some(i) => &chain[i].manifest.id,
                        None => &point.manifest.id,
                    }
                };
                // The root is listed by no directory.
                let (parent, name) = match e.path() {
                    b"." => (&b""[..], &b"."[..]),
                    p => super::catalog::split(p),
                };
                ins.execute(params![
                    e.path(),
                    parent,
                    name,
                    e.k == Kind::Dir,
                    kind_code(e.k),
                    e.size as i64,
                    e.mode,
                    e.uid,
                    e.gid,
                    e.mtime.0,
                    e.link.as_ref().map(|l| l.0.as_slice()),
                    written_in,
                    e.h,
                ])
                .map_err(sql_err("write"))?;
            }
        }
        tx.execute_batch(
            "CREATE INDEX e_dir ON e (parent, is_dir DESC, name);
             CREATE UNIQUE INDEX e_path ON e (path);",
        )
        .map_err(sql_err("write"))?;
        tx.pragma_update(None, "user_version", VERSION)
            .map_err(sql_err("write"))?;
        tx.commit().map_err(sql_err("write"))?;
        Ok(())
    }

    /// The entry at `path` (relative to the partition root), if the point has it. The root `.`
    /// is a directory every point has.
    pub fn entry(&self, path: &[u8]) -> Result<Option<Listed>, EngineError> {
        self.conn
            .query_row(
                &format!("SELECT {COLS} FROM e WHERE path = ?1"),
                [path],
                row,
            )
            .optional()
            .map_err(sql_err("read"))
    }

    /// One page of a directory (or of a search below it), and how many match in all.
    pub fn list(&self, q: &Query) -> Result<(Vec<Listed>, u64), EngineError> {
        use rusqlite::types::Value as V;
        let mut filter = Vec::new();
        let mut args: Vec<V> = Vec::new();
        match &q.search {
            None => {
                filter.push("parent = ?");
                args.push(V::Blob(q.dir.clone()));
            }
            Some(s) => {
                if q.dir != b"." {
                    // Below `dir`: paths in ["dir/", "dir0"), '0' being the byte after '/'.
                    filter.push("path >= ? AND path < ?");
                    let mut lo = q.dir.clone();
                    lo.push(b'/');
                    let mut hi = q.dir.clone();
                    hi.push(b'0');
                    args.extend([V::Blob(lo), V::Blob(hi)]);
                } else {
                    filter.push("path != X'2E'");
                }
                filter.push("CAST(name AS TEXT) GLOB ?");
                let glob = if s.contains(['*', '?', '[']) {
                    s.clone()
                } else {
                    format!("*{}*", s.replace('[', "[[]"))
                };
                args.push(V::Text(glob));
            }
        }
        if let Some(k) = q.kind {
            filter.push("kind = ?");
            args.push(V::Text(kind_code(k).into()));
        }
        let filter = filter.join(" AND ");
        let order = if q.descending { "DESC" } else { "ASC" };
        let total: i64 = self
            .conn
            .query_row(
                &format!("SELECT count(*) FROM e WHERE {filter}"),
                rusqlite::params_from_iter(args.iter()),
                |r| r.get(0),
            )
            .map_err(sql_err("read"))?;
        args.extend([V::Integer(q.limit as i64), V::Integer(q.offset as i64)]);
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLS} FROM e WHERE {filter} ORDER BY is_dir DESC, name {order}, path {order}
                 LIMIT ? OFFSET ?"
            ))
            .map_err(sql_err("read"))?;
        let rows = st
            .query_map(rusqlite::params_from_iter(args.iter()), row)
            .map_err(sql_err("read"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(sql_err("read"))?;
        Ok((rows, total.max(0) as u64))
    }
}

const COLS: &str = "path, name, kind, size, mode, uid, gid, mtime, link, written_in,
    is_dir AND EXISTS (SELECT 1 FROM e AS c WHERE c.parent = e.path), h";

fn row(r: &rusqlite::Row) -> rusqlite::Result<Listed> {
    let kind: String = r.get(2)?;
    Ok(Listed {
        path: r.get(0)?,
        name: r.get(1)?,
        kind: kind_of(&kind),
        size: r.get::<_, i64>(3)?.max(0) as u64,
        mode: r.get(4)?,
        uid: r.get(5)?,
        gid: r.get(6)?,
        mtime: r.get(7)?,
        link: r.get(8)?,
        written_in: r.get(9)?,
        has_children: r.get(10)?,
        hash: r.get(11)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::backup::{backup, BackupPlan, KindPolicy, Owner};
    use crate::engine::target::LocalTarget;
    use crate::engine::trust::{AuthKey, Trust};
    use crate::engine::{CancelToken, JobLocation, NoProgress};
    use std::sync::Arc;

    fn run(src: &Path, repo: &Path, trust: &Trust, kind: KindPolicy) {
        let plan = BackupPlan {
            location: JobLocation {
                target: Arc::new(LocalTarget::new(repo)),
                server: "srv".into(),
                job: "j".into(),
                trust: trust.clone(),
            },
            source: src.to_path_buf(),
            kind,
            rotation: 10,
            compression: true,
            level: 1,
            identity: None,
            exclude: vec![],
            network_limit_mib: 0,
            owner: Owner::Any,
        };
        backup(&plan, &NoProgress, &CancelToken::new()).unwrap();
    }

    fn names(v: &[Listed]) -> Vec<String> {
        v.iter()
            .map(|l| String::from_utf8_lossy(&l.name).into_owned())
            .collect()
    }

    #[test]
    fn directories_page_search_and_point_of_each_file() {
        let (src, repo, state) = (
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
        );
        let trust = Trust {
            key: AuthKey::from_bytes([7; 32]),
            registry: None,
        };
        std::fs::create_dir_all(src.path().join("etc/ssh")).unwrap();
        std::fs::create_dir_all(src.path().join("var/empty")).unwrap();
        std::fs::write(src.path().join("etc/hosts"), "127.0.0.1 localhost\n").unwrap();
        std::fs::write(src.path().join("etc/ssh/sshd_config"), "Port 22\n").unwrap();
        for i in 0..25 {
            std::fs::write(src.path().join(format!("etc/f{i:02}.conf")), "x").unwrap();
        }
        std::os::unix::fs::symlink("hosts", src.path().join("etc/hosts.link")).unwrap();
        run(src.path(), repo.path(), &trust, KindPolicy::Full);
        std::fs::write(src.path().join("etc/hosts"), "changed\n").unwrap();
        run(src.path(), repo.path(), &trust, KindPolicy::Incremental);

        let t = LocalTarget::new(repo.path());
        let job = Path::new("srv/j");
        let points = repo::points(&t, job, &trust.key);
        assert_eq!(points.len(), 2);
        let (full, incr) = (&points[0], &points[1]);
        let ix = PointIndex::open_or_build(state.path(), &t, &points, incr, None).unwrap();

        // The root lists its directories, directories first, then by name.
        let (root, n) = ix
            .list(&Query {
                dir: b".".to_vec(),
                limit: 100,
                ..Default::default()
            })
            .unwrap();
        assert_eq!((names(&root), n), (vec!["etc".into(), "var".into()], 2));
        assert!(root.iter().all(|l| l.has_children || l.name == b"var"));
        // A directory page by page: ssh first (a directory), then files by name.
        let page = |offset| {
            ix.list(&Query {
                dir: b"etc".to_vec(),
                offset,
                limit: 10,
                ..Default::default()
            })
            .unwrap()
        };
        let (first, total) = page(0);
        assert_eq!(total, 28);
        assert_eq!(names(&first)[0], "ssh");
        assert_eq!(first[0].kind, Kind::Dir);
        assert_eq!(names(&first)[1], "f00.conf");
        let (last, _) = page(20);
        assert_eq!(
            names(&last),
            vec![
                "f19.conf",
                "f20.conf",
                "f21.conf",
                "f22.conf",
                "f23.conf",
                "f24.conf",
                "hosts",
                "hosts.link"
            ]
        );
        // writtenIn: the changed file is in the incremental, an unchanged one in the full.
        let id = |p: &str| ix.entry(p.as_bytes()).unwrap().unwrap().written_in;
        assert_eq!(id("etc/hosts"), incr.manifest.id);
        assert_eq!(id("etc/ssh/sshd_config"), full.manifest.id);
        let link = ix.entry(b"etc/hosts.link").unwrap().unwrap();
        assert_eq!(
            (link.kind, link.link.as_deref()),
            (Kind::Symlink, Some(&b"hosts"[..]))
        );
        assert!(ix.entry(b"etc/nope").unwrap().is_none());
        // Search below a directory: substring or glob, anywhere below it.
        let found = |dir: &[u8], s: &str| {
            names(
                &ix.list(&Query {
                    dir: dir.to_vec(),
                    search: Some(s.into()),
                    limit: 100,
                    ..Default::default()
                })
                .unwrap()
                .0,
            )
        };
        assert_eq!(found(b".", "sshd"), vec!["sshd_config"]);
        assert_eq!(found(b"etc", "*_config"), vec!["sshd_config"]);
        assert_eq!(found(b"var", "sshd"), Vec::<String>::new());
        assert_eq!(found(b"etc", "f2?.conf").len(), 5);
        // Opened again, the file is reused, not rebuilt.
        let file = file_for(state.path(), incr);
        let before = std::fs::metadata(&file).unwrap().modified().unwrap();
        PointIndex::open_or_build(state.path(), &t, &points, incr, None).unwrap();
        assert_eq!(
            std::fs::metadata(&file).unwrap().modified().unwrap(),
            before
        );
    }
}
