//! Whether the file configured for an SQLite store (the webhook outbox, the audit trail) can
//! be opened and written: an existing file must be an SQLite database (or empty), and its
//! directory writable, since SQLite creates the file and its `-wal` and `-shm` files there.
//! Nothing is created by the check but a probe file, removed at once.

use std::{
    fs,
    io::{self, Read},
    path::{Path, PathBuf},
};

use super::{Problem, Problems};

/// The first 16 bytes of every SQLite database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Records what keeps the store at `path` (configured as `key`) from opening.
pub(super) fn check(key: &str, path: &Path, p: &mut Problems) {
    if let Err(message) = usable(path) {
        p.push(Problem::new(key, message));
    }
}

fn usable(path: &Path) -> Result<(), String> {
    let shown = path.display();
    match fs::metadata(path) {
        Ok(meta) if meta.is_dir() => Err(format!(
            "{shown} is a directory; name a file (it is created when missing)"
        )),
        Ok(meta) if !meta.is_file() => Err(format!("{shown} is not a regular file")),
        Ok(_) => {
            let mut file = fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(path)
                .map_err(|err| format!("cannot open {shown} for writing: {err}"))?;
            let mut header = Vec::with_capacity(SQLITE_HEADER.len());
            file.by_ref()
                .take(SQLITE_HEADER.len() as u64)
                .read_to_end(&mut header)
                .map_err(|err| format!("cannot read {shown}: {err}"))?;
            if !header.is_empty() && header != SQLITE_HEADER {
                return Err(format!(
                    "{shown} is not an SQLite database; name a new file or the store's own"
                ));
            }
            writable_dir(&directory_of(path))
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            // The store creates missing directories: the nearest existing one must take them.
            let mut dir = directory_of(path);
            while !dir.exists() {
                match dir.parent() {
                    Some(parent) if !parent.as_os_str().is_empty() => dir = parent.to_owned(),
                    _ => dir = PathBuf::from("."),
                }
            }
            if !dir.is_dir() {
                return Err(format!(
                    "cannot create {shown}: {} is not a directory",
                    dir.display()
                ));
            }
            writable_dir(&dir)
        }
        Err(err) => Err(format!("cannot use {shown}: {err}")),
    }
}

/// The directory a path's file lives in (`.` for a bare file name).
fn directory_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Creates and removes a probe file in `dir`.
fn writable_dir(dir: &Path) -> Result<(), String> {
    let probe = dir.join(format!(".agentcast-write-check-{}", std::process::id()));
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => fs::remove_file(&probe)
            .map_err(|err| format!("cannot remove the probe {}: {err}", probe.display())),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(format!(
            "{} is not writable ({err}); SQLite creates the file and its -wal and -shm files there",
            dir.display()
        )),
    }
}

/// The file `path` names, resolved through symbolic links as far as it exists, so two
/// spellings of one file compare equal.
pub(super) fn identity(path: &Path) -> PathBuf {
    if let Ok(resolved) = fs::canonicalize(path) {
        return resolved;
    }
    match (fs::canonicalize(directory_of(path)), path.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => std::path::absolute(path).unwrap_or_else(|_| path.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_a_foreign_file_and_a_file_in_the_way_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(usable(&dir.path().join("new.sqlite")).is_ok());
        assert!(usable(&dir.path().join("nested/deeper/new.sqlite")).is_ok());
        let empty = dir.path().join("empty.sqlite");
        fs::write(&empty, b"").unwrap();
        assert!(usable(&empty).is_ok());
        let db = dir.path().join("db.sqlite");
        rusqlite::Connection::open(&db)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        assert!(usable(&db).is_ok());

        let err = usable(dir.path()).unwrap_err();
        assert!(err.contains("is a directory"), "{err}");
        let text = dir.path().join("notes.txt");
        fs::write(&text, b"hello, not a database").unwrap();
        let err = usable(&text).unwrap_err();
        assert!(err.contains("is not an SQLite database"), "{err}");
        let err = usable(&text.join("store.sqlite")).unwrap_err();
        assert!(err.contains("notes.txt"), "{err}");
        assert!(
            fs::read_dir(dir.path()).unwrap().all(|e| !e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains("write-check")),
            "the probe is removed"
        );
    }

    #[test]
    fn two_spellings_of_one_file_have_one_identity() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("x.sqlite");
        let b = dir.path().join("sub/../x.sqlite");
        fs::create_dir(dir.path().join("sub")).unwrap();
        assert_eq!(identity(&a), identity(&b));
        fs::write(&a, b"").unwrap();
        assert_eq!(identity(&a), identity(&b));
    }
}
