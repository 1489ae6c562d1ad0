//! Unix socket addresses hold at most 107 path bytes, but exec roots may be long: sockets
//! under a long directory are bound and reached through `/proc/self/fd/<dir fd>/<name>`,
//! which is short and names the same file, without changing the process's working directory.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// The longest path `sockaddr_un.sun_path` holds, leaving room for the terminating NUL.
const SUN_PATH_MAX: usize = 107;

/// A path that `bind`/`connect` accept for a socket file; keep it alive while using the path,
/// since a long one goes through an open handle on the socket's directory.
#[derive(Debug)]
pub struct SocketPath {
    _dir: Option<File>,
    path: PathBuf,
}

impl SocketPath {
    /// The socket itself when its path fits, otherwise a `/proc/self/fd` path to it.
    pub fn new(socket: &Path) -> std::io::Result<SocketPath> {
        if socket.as_os_str().len() <= SUN_PATH_MAX {
            return Ok(SocketPath {
                _dir: None,
                path: socket.to_path_buf(),
            });
        }
        let (Some(dir), Some(name)) = (socket.parent(), socket.file_name()) else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("socket path {} has no directory", socket.display()),
            ));
        };
        let dir = File::open(dir)?;
        let path = Path::new("/proc/self/fd")
            .join(dir.as_raw_fd().to_string())
            .join(name);
        Ok(SocketPath {
            _dir: Some(dir),
            path,
        })
    }

    /// The path to hand to `bind` or `connect`.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::{UnixListener, UnixStream};

    #[test]
    fn binds_and_connects_under_a_long_directory() -> std::io::Result<()> {
        let tmp = tempfile::tempdir()?;
        let dir = tmp.path().join("d".repeat(120));
        std::fs::create_dir(&dir)?;
        let socket = dir.join("shim.sock");
        assert!(UnixListener::bind(&socket).is_err());
        let bind_path = SocketPath::new(&socket)?;
        let listener = UnixListener::bind(bind_path.path())?;
        assert!(socket.exists());
        let connect_path = SocketPath::new(&socket)?;
        let _client = UnixStream::connect(connect_path.path())?;
        let (_server, _) = listener.accept()?;
        Ok(())
    }

    #[test]
    fn short_paths_are_used_as_they_are() -> std::io::Result<()> {
        let p = SocketPath::new(Path::new("/run/x/shim.sock"))?;
        assert_eq!(p.path(), Path::new("/run/x/shim.sock"));
        Ok(())
    }
}
