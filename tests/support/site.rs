//! A deployed site for the end-to-end flows: a real ptvsd debuggee running from its own copy
//! of `tests/programs` (the "remote" root, as an App Service site has its own copy of the
//! sources), reached over `wss://` through a relay with a throw-away CA.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::{programs_dir, PeerInfo, PeerOptions, PtvsdPeer, Relay, RelayStarter, TestCerts};

pub struct RemoteSite {
    pub peer: PtvsdPeer,
    pub relay: Relay,
    _certs: TestCerts,
    dir: tempfile::TempDir,
    /// Where the site's copy of `tests/programs` is: the `remoteRoot` of the path mapping.
    pub remote_root: PathBuf,
}

impl RemoteSite {
    /// Copies `tests/programs`, starts `script` from the copy with `args` under the ptvsd
    /// that `info` names, and puts `relay` (with TLS) in front of it.
    pub fn start(info: &PeerInfo, script: &str, args: &[&str], relay: RelayStarter) -> RemoteSite {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let remote_root = dir.path().join("site");
        copy_dir(&programs_dir(), &remote_root);
        let certs = TestCerts::generate(&dir.path().join("certs"));
        let options = PeerOptions::new().args(args.iter().copied()).cwd(&remote_root);
        let peer = PtvsdPeer::start_peer(info, &remote_root.join(script), options);
        let relay = relay(peer.port(), Some(&certs));
        RemoteSite { peer, relay, _certs: certs, dir, remote_root }
    }

    /// The attach arguments an editor would send: the `wss://` URL with the secret, the test
    /// CA, and the path mapping from `tests/programs` to the site's copy.
    pub fn attach_args(&self) -> Value {
        json!({
            "url": format!("wss://{}@127.0.0.1:{}/ptvsd", self.peer.secret(), self.relay.port()),
            "caFile": self.dir.path().join("certs").join("ca.pem"),
            "pathMappings": [{ "localRoot": programs_dir(), "remoteRoot": self.remote_root }],
        })
    }

    /// A path outside the site, in the same temporary directory (for mappings that lead
    /// nowhere).
    pub fn elsewhere(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Makes the program do something: creates the file `name` in the site's root, which
    /// the test programs watch for (see `features.py`).
    pub fn trigger(&self, name: &str) {
        std::fs::write(self.remote_root.join(name), b"").expect("the trigger file");
    }
}

/// Copies a directory tree, without `__pycache__`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("the copy's directory");
    for entry in std::fs::read_dir(from).expect("the directory to copy") {
        let entry = entry.expect("a directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            if entry.file_name() != "__pycache__" {
                copy_dir(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), &target).expect("a copied file");
        }
    }
}
