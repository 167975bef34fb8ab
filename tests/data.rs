//! Finding, verifying, loading and downloading data sets, on small IDX files the tests make, and
//! against an HTTP server started on 127.0.0.1.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use alexnet_tui::data::fashion_mnist::{
    self, DataError, DatasetSpec, FileSpec, Locations, md5_hex,
};
use alexnet_tui::data::idx;

/// A tiny data set in IDX form: `train` and `test` images of 28x28 with labels.
struct Fixture {
    files: [(String, Vec<u8>); 4],
}

impl Fixture {
    fn new(train: usize, test: usize) -> Fixture {
        let images = |n: usize, salt: usize| -> Vec<u8> {
            let data: Vec<u8> = (0..n * 784)
                .map(|i| ((i * 31 + salt) % 256) as u8)
                .collect();
            idx::encode(&[n, 28, 28], &data)
        };
        let labels = |n: usize| -> Vec<u8> {
            let data: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
            idx::encode(&[n], &data)
        };
        Fixture {
            files: [
                ("train-images-idx3-ubyte".into(), images(train, 1)),
                ("train-labels-idx1-ubyte".into(), labels(train)),
                ("t10k-images-idx3-ubyte".into(), images(test, 2)),
                ("t10k-labels-idx1-ubyte".into(), labels(test)),
            ],
        }
    }

    /// The spec that these exact bytes verify against.
    fn spec(&self) -> DatasetSpec {
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        let spec = |i: usize| FileSpec {
            name: leak(self.files[i].0.clone()),
            md5: leak(md5_hex(&self.files[i].1)),
            len: self.files[i].1.len(),
        };
        DatasetSpec {
            files: [spec(0), spec(1), spec(2), spec(3)],
        }
    }

    fn write(&self, dir: &Path, gzip: bool) {
        for (name, bytes) in &self.files {
            if gzip {
                std::fs::write(dir.join(format!("{name}.gz")), gz(bytes)).expect("write fixture");
            } else {
                std::fs::write(dir.join(name), bytes).expect("write fixture");
            }
        }
    }
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("in-memory gzip");
    encoder.finish().expect("in-memory gzip")
}

fn only(dir: &Path) -> Locations {
    Locations {
        folders: vec![dir.to_path_buf()],
        cache: dir.join("cache"),
        download_url: None,
    }
}

fn no_progress() -> impl FnMut(fashion_mnist::Progress<'_>) {
    |_| {}
}

#[test]
fn loads_plain_and_gzipped_files() {
    let fixture = Fixture::new(12, 5);
    for gzip in [false, true] {
        let dir = tempfile::tempdir().expect("temp dir");
        fixture.write(dir.path(), gzip);
        let data = fashion_mnist::load(&fixture.spec(), &only(dir.path()), &mut no_progress())
            .expect("valid fixture");
        assert_eq!(data.train.len(), 12);
        assert_eq!(data.test.len(), 5);
        assert_eq!(data.train.labels[11], 1);
        assert_eq!(data.train.image(1)[0], ((784 * 31 + 1) % 256) as u8);
        assert_eq!(data.source, dir.path());
    }
}

#[test]
fn the_checksum_is_of_the_decompressed_bytes() {
    // Debian recompressed its .gz files: other .gz bytes, same contents. Both must verify.
    let fixture = Fixture::new(3, 2);
    let dir = tempfile::tempdir().expect("temp dir");
    fixture.write(dir.path(), true);
    let spec = fixture.spec();
    let path = dir.path().join("train-images-idx3-ubyte.gz");
    let fast = {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(&fixture.files[0].1).expect("gzip");
        encoder.finish().expect("gzip")
    };
    std::fs::write(&path, &fast).expect("write");
    assert_ne!(md5_hex(&fast), md5_hex(&gz(&fixture.files[0].1)));
    fashion_mnist::load(&spec, &only(dir.path()), &mut no_progress())
        .expect("recompressed file verifies");
}

#[test]
fn the_real_sums_are_the_upstream_decompressed_sums() {
    let names: Vec<_> = fashion_mnist::FASHION_MNIST
        .files
        .iter()
        .map(|f| (f.name, f.md5))
        .collect();
    assert_eq!(
        names,
        [
            (
                "train-images-idx3-ubyte",
                "f4a8712d7a061bf5bd6d2ca38dc4d50a"
            ),
            (
                "train-labels-idx1-ubyte",
                "9018921c3c673c538a1fc5bad174d6f9"
            ),
            ("t10k-images-idx3-ubyte", "8181f5470baa50b63fa0f6fddb340f0a"),
            ("t10k-labels-idx1-ubyte", "15d484375f8d13e6eb1aabb0c3f46965"),
        ]
    );
}

/// Writes the fixture, lets `damage` change one file's bytes, and returns the load error.
fn load_error(damage: impl FnOnce(&mut Vec<u8>), which: usize, keep_spec: bool) -> String {
    let fixture = Fixture::new(4, 3);
    let good_spec = fixture.spec();
    let mut damaged = Fixture::new(4, 3);
    damage(&mut damaged.files[which].1);
    let dir = tempfile::tempdir().expect("temp dir");
    damaged.write(dir.path(), false);
    let spec = if keep_spec { good_spec } else { damaged.spec() };
    let error = fashion_mnist::load(&spec, &only(dir.path()), &mut no_progress())
        .expect_err("damaged data must not load");
    error
        .to_string()
        .replace(&dir.path().display().to_string(), "DIR")
}

#[test]
fn corrupt_files_give_errors_that_name_the_file() {
    let truncated = load_error(|bytes| bytes.truncate(bytes.len() - 10), 0, false);
    assert_eq!(
        truncated,
        "DIR/train-images-idx3-ubyte: truncated: the header promises 3136 bytes of data, the file has 3126"
    );
    let magic = load_error(|bytes| bytes[2] = 0x0d, 2, false);
    assert_eq!(
        magic,
        "DIR/t10k-images-idx3-ubyte: wrong magic number 0x00000d03: not an IDX file of unsigned bytes"
    );
    let label = load_error(|bytes| bytes[8 + 2] = 12, 1, false);
    assert_eq!(
        label,
        "DIR/train-labels-idx1-ubyte: label 12 at index 2 is not a class between 0 and 9"
    );
    let checksum = load_error(|bytes| bytes[100] ^= 1, 0, true);
    assert!(
        checksum.starts_with(
            "DIR/train-images-idx3-ubyte: checksum mismatch: the decompressed contents have MD5 "
        ),
        "{checksum}"
    );
    let count = load_error(
        |bytes| *bytes = idx::encode(&[5], &[0, 1, 2, 3, 4]),
        3,
        false,
    );
    assert_eq!(count, "DIR/t10k-labels-idx1-ubyte: 3 images but 5 labels");
}

#[test]
fn missing_data_without_download_says_where_it_looked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let error = fashion_mnist::load(
        &Fixture::new(1, 1).spec(),
        &only(dir.path()),
        &mut no_progress(),
    )
    .expect_err("nothing there");
    assert!(matches!(error, DataError::NotFound { .. }));
    let message = error.to_string();
    assert!(
        message.contains(&dir.path().display().to_string()),
        "{message}"
    );
    assert!(
        message.contains("apt-get install dataset-fashion-mnist"),
        "{message}"
    );
}

/// How the test server answers a request for one file.
#[derive(Clone, Copy)]
enum Serve {
    Good,
    /// Gzip of other contents: downloads fine, fails verification.
    WrongContents,
    /// Promises the whole file, sends half, closes the connection.
    DropHalfway,
}

/// A minimal HTTP/1.1 server on 127.0.0.1 serving the fixture's files as `.gz`. It answers a
/// bounded number of requests and then ends.
fn serve(fixture: &Fixture, mode: Serve) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let address = listener.local_addr().expect("address");
    let files: Vec<(String, Vec<u8>)> = fixture
        .files
        .iter()
        .map(|(name, bytes)| (format!("/{name}.gz"), gz(bytes)))
        .collect();
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(8) {
            let Ok(mut stream) = stream else { continue };
            counter.fetch_add(1, Ordering::SeqCst);
            let mut request = [0u8; 2048];
            let read = stream.read(&mut request).unwrap_or(0);
            let text = String::from_utf8_lossy(&request[..read]).to_string();
            let path = text.split_whitespace().nth(1).unwrap_or("").to_string();
            let Some((_, body)) = files.iter().find(|(p, _)| *p == path) else {
                let _ = stream.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                continue;
            };
            let body = match mode {
                Serve::WrongContents => gz(b"this is not fashion-mnist"),
                _ => body.clone(),
            };
            let header = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/gzip\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(header.as_bytes());
            let sent = match mode {
                Serve::DropHalfway => &body[..body.len() / 2],
                _ => &body[..],
            };
            let _ = stream.write_all(sent);
            let _ = stream.flush();
        }
    });
    (format!("http://{address}/"), requests)
}

fn download_locations(dir: &Path, url: String) -> Locations {
    Locations {
        folders: vec![dir.join("nowhere")],
        cache: dir.join("cache"),
        download_url: Some(url),
    }
}

#[test]
fn downloads_verifies_and_caches() {
    let fixture = Fixture::new(6, 4);
    let (url, requests) = serve(&fixture, Serve::Good);
    let dir = tempfile::tempdir().expect("temp dir");
    let locations = download_locations(dir.path(), url);
    let mut reports = 0;
    let data = fashion_mnist::load(&fixture.spec(), &locations, &mut |progress| {
        assert!(progress.total.is_some());
        reports += 1;
    })
    .expect("download from the loopback server");
    assert_eq!(data.train.len(), 6);
    assert!(reports >= 4);
    assert_eq!(requests.load(Ordering::SeqCst), 4);
    for (name, _) in &fixture.files {
        assert!(dir.path().join(format!("cache/{name}.gz")).is_file());
    }
    // The second load finds the cache and asks the server for nothing.
    let mut cached = locations.clone();
    cached.folders.push(locations.cache.clone());
    fashion_mnist::load(&fixture.spec(), &cached, &mut no_progress()).expect("cached");
    assert_eq!(requests.load(Ordering::SeqCst), 4);
}

/// After a failed download, the cache holds no file that looks complete.
fn assert_nothing_complete(cache: &Path) {
    let names: Vec<String> = std::fs::read_dir(cache)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        names
            .iter()
            .all(|n| !n.ends_with(".gz") && !n.ends_with("ubyte")),
        "left behind: {names:?}"
    );
}

#[test]
fn a_download_with_the_wrong_contents_is_rejected_and_removed() {
    let fixture = Fixture::new(6, 4);
    let (url, _) = serve(&fixture, Serve::WrongContents);
    let dir = tempfile::tempdir().expect("temp dir");
    let error = fashion_mnist::load(
        &fixture.spec(),
        &download_locations(dir.path(), url),
        &mut no_progress(),
    )
    .expect_err("wrong contents");
    let message = error.to_string();
    assert!(
        message.contains("not a class") || message.contains("checksum mismatch"),
        "{message}"
    );
    assert_nothing_complete(&dir.path().join("cache"));
}

#[test]
fn a_dropped_connection_leaves_no_file_that_looks_complete() {
    let fixture = Fixture::new(200, 4);
    let (url, _) = serve(&fixture, Serve::DropHalfway);
    let dir = tempfile::tempdir().expect("temp dir");
    let error = fashion_mnist::load(
        &fixture.spec(),
        &download_locations(dir.path(), url.clone()),
        &mut no_progress(),
    )
    .expect_err("dropped connection");
    let message = error.to_string();
    assert!(
        message.starts_with(&format!(
            "downloading {url}train-images-idx3-ubyte.gz failed"
        )),
        "{message}"
    );
    assert_nothing_complete(&dir.path().join("cache"));
}

#[test]
fn an_unreachable_server_is_a_clear_error() {
    // Bind then drop: nothing listens on this port any more.
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("http://127.0.0.1:{port}/");
    let error = fashion_mnist::load(
        &Fixture::new(1, 1).spec(),
        &download_locations(dir.path(), url),
        &mut no_progress(),
    )
    .expect_err("no server");
    assert!(error.to_string().contains("Set data.dir"), "{error}");
}
