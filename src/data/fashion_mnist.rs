//! Finding, verifying, downloading and loading Fashion-MNIST.
//!
//! Every source is verified by the MD5 of the *decompressed* IDX bytes: Debian recompressed its
//! `.gz` files, so their sums differ from upstream's while the contents are identical.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use md5::{Digest, Md5};
use thiserror::Error;

use super::idx::{self, IdxError};

/// The ten classes, in label order.
pub const CLASS_NAMES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

pub const IMAGE_SIDE: usize = 28;
pub const IMAGE_PIXELS: usize = IMAGE_SIDE * IMAGE_SIDE;

/// Where Debian's `dataset-fashion-mnist` package puts the files.
pub const SYSTEM_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// One of the four files: its name without `.gz` and what its decompressed bytes must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSpec {
    pub name: &'static str,
    pub md5: &'static str,
    pub len: usize,
}

/// The four files of a data set, in the order train images, train labels, test images, test labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatasetSpec {
    pub files: [FileSpec; 4],
}

pub const FASHION_MNIST: DatasetSpec = DatasetSpec {
    files: [
        FileSpec {
            name: "train-images-idx3-ubyte",
            md5: "f4a8712d7a061bf5bd6d2ca38dc4d50a",
            len: 47_040_016,
        },
        FileSpec {
            name: "train-labels-idx1-ubyte",
            md5: "9018921c3c673c538a1fc5bad174d6f9",
            len: 60_008,
        },
        FileSpec {
            name: "t10k-images-idx3-ubyte",
            md5: "8181f5470baa50b63fa0f6fddb340f0a",
            len: 7_840_016,
        },
        FileSpec {
            name: "t10k-labels-idx1-ubyte",
            md5: "15d484375f8d13e6eb1aabb0c3f46965",
            len: 10_008,
        },
    ],
};

#[derive(Debug, Error)]
pub enum DataError {
    #[error("{path}: {source}")]
    Idx { path: PathBuf, source: IdxError },
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}: checksum mismatch: the decompressed contents have MD5 {found}, expected {expected}; the file is damaged or not Fashion-MNIST (delete it and run again)"
    )]
    Checksum {
        path: PathBuf,
        expected: String,
        found: String,
    },
    #[error("{path}: {images} images but {labels} labels")]
    CountMismatch {
        path: PathBuf,
        images: usize,
        labels: usize,
    },
    #[error(
        "Fashion-MNIST not found in {searched}, and downloading is off (data.download = false). Install it (apt-get install dataset-fashion-mnist), set data.dir, or allow the download"
    )]
    NotFound { searched: String },
    #[error(
        "downloading {url} failed: {message}. Set data.dir to a folder holding the four files, or install dataset-fashion-mnist"
    )]
    Download { url: String, message: String },
    #[error("{path}: cannot write: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One split, kept as bytes: 70,000 images take 55 MB this way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub images: Vec<u8>,
    pub labels: Vec<u8>,
}

impl Split {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn image(&self, index: usize) -> &[u8] {
        &self.images[index * IMAGE_PIXELS..(index + 1) * IMAGE_PIXELS]
    }

    /// The first `limit` examples (0 = all).
    pub fn truncated(mut self, limit: usize) -> Split {
        if limit > 0 && limit < self.len() {
            self.labels.truncate(limit);
            self.images.truncate(limit * IMAGE_PIXELS);
        }
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    pub train: Split,
    pub test: Split,
    /// The folder the files were read from.
    pub source: PathBuf,
}

/// Where to look, in order, and where downloads go.
#[derive(Debug, Clone)]
pub struct Locations {
    pub folders: Vec<PathBuf>,
    pub cache: PathBuf,
    pub download_url: Option<String>,
}

impl Locations {
    /// `data.dir` (if set), Debian's folder, then the user cache; downloads go to the cache.
    pub fn standard(data_dir: Option<PathBuf>, download_url: Option<String>) -> Locations {
        let cache = cache_dir().join("fashion-mnist");
        let mut folders: Vec<PathBuf> = data_dir.into_iter().collect();
        folders.push(PathBuf::from(SYSTEM_DIR));
        folders.push(cache.clone());
        Locations {
            folders,
            cache,
            download_url,
        }
    }
}

/// The program's cache folder: `$ALEXNET_TUI_CACHE`, else `~/.cache/alexnet-tui`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ALEXNET_TUI_CACHE") {
        return PathBuf::from(dir);
    }
    directories::BaseDirs::new()
        .map(|dirs| dirs.cache_dir().join("alexnet-tui"))
        .unwrap_or_else(|| std::env::temp_dir().join("alexnet-tui"))
}

/// Download progress, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    pub file: &'a str,
    pub bytes: u64,
    pub total: Option<u64>,
}

/// The path of `name` in `folder`, gzipped or not, if present.
fn present(folder: &Path, name: &str) -> Option<PathBuf> {
    [folder.join(format!("{name}.gz")), folder.join(name)]
        .into_iter()
        .find(|path| path.is_file())
}

/// Finds, verifies and loads the data set, downloading it into the cache if allowed and needed.
pub fn load(
    spec: &DatasetSpec,
    locations: &Locations,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Dataset, DataError> {
    for folder in &locations.folders {
        let paths: Option<Vec<PathBuf>> = spec
            .files
            .iter()
            .map(|file| present(folder, file.name))
            .collect();
        if let Some(paths) = paths {
            return load_from(spec, &paths, folder);
        }
    }
    let Some(url) = &locations.download_url else {
        return Err(DataError::NotFound {
            searched: locations
                .folders
                .iter()
                .map(|folder| folder.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        });
    };
    let mut paths = Vec::new();
    for file in &spec.files {
        paths.push(download(file, url, &locations.cache, progress)?);
    }
    load_from(spec, &paths, &locations.cache)
}

fn load_from(spec: &DatasetSpec, paths: &[PathBuf], folder: &Path) -> Result<Dataset, DataError> {
    let mut contents = Vec::with_capacity(4);
    for (file, path) in spec.files.iter().zip(paths) {
        contents.push(read_verified(file, path)?);
    }
    let side = IMAGE_SIDE;
    let parse_split = |images_at: usize| -> Result<Split, DataError> {
        let images_path = &paths[images_at];
        let labels_path = &paths[images_at + 1];
        let images = idx::parse_images(&contents[images_at], side, side).map_err(|source| {
            DataError::Idx {
                path: images_path.clone(),
                source,
            }
        })?;
        let labels =
            idx::parse_labels(&contents[images_at + 1]).map_err(|source| DataError::Idx {
                path: labels_path.clone(),
                source,
            })?;
        if images.dims[0] != labels.dims[0] {
            return Err(DataError::CountMismatch {
                path: labels_path.clone(),
                images: images.dims[0],
                labels: labels.dims[0],
            });
        }
        Ok(Split {
            images: images.data,
            labels: labels.data,
        })
    };
    Ok(Dataset {
        train: parse_split(0)?,
        test: parse_split(2)?,
        source: folder.to_path_buf(),
    })
}

/// Reads a file, gunzips it if needed and checks the MD5 of the decompressed bytes.
pub fn read_verified(file: &FileSpec, path: &Path) -> Result<Vec<u8>, DataError> {
    let raw = fs::read(path).map_err(|source| DataError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let bytes = idx::maybe_gunzip(raw).map_err(|source| DataError::Idx {
        path: path.to_path_buf(),
        source,
    })?;
    let found = md5_hex(&bytes);
    if found != file.md5 {
        return Err(DataError::Checksum {
            path: path.to_path_buf(),
            expected: file.md5.to_string(),
            found,
        });
    }
    Ok(bytes)
}

pub fn md5_hex(bytes: &[u8]) -> String {
    let digest = Md5::digest(bytes);
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Downloads `<url>/<name>.gz` into `cache`, verifies it, and only then gives it its final name:
/// a partial or failed download leaves no file that looks complete.
pub fn download(
    file: &FileSpec,
    url: &str,
    cache: &Path,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<PathBuf, DataError> {
    let final_path = cache.join(format!("{}.gz", file.name));
    if final_path.is_file() {
        return Ok(final_path);
    }
    fs::create_dir_all(cache).map_err(|source| DataError::Write {
        path: cache.to_path_buf(),
        source,
    })?;
    let file_url = format!("{}/{}.gz", url.trim_end_matches('/'), file.name);
    let partial = cache.join(format!("{}.gz.partial", file.name));
    let result = fetch_to(&file_url, &partial, file.name, progress).and_then(|()| {
        read_verified(file, &partial)?;
        fs::rename(&partial, &final_path).map_err(|source| DataError::Write {
            path: final_path.clone(),
            source,
        })
    });
    if result.is_err() {
        let _ = fs::remove_file(&partial);
    }
    result.map(|()| final_path)
}

fn fetch_to(
    url: &str,
    path: &Path,
    name: &str,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<(), DataError> {
    let failed = |message: String| DataError::Download {
        url: url.to_string(),
        message,
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(20)))
        .timeout_recv_body(Some(Duration::from_secs(60)))
        .build()
        .into();
    let mut response = agent.get(url).call().map_err(|e| failed(e.to_string()))?;
    let total = response.body().content_length();
    let mut reader = response.body_mut().as_reader();
    let mut out = fs::File::create(path).map_err(|source| DataError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    let mut buffer = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let read = reader
            .read(&mut buffer)
            .map_err(|e| failed(format!("connection failed after {bytes} bytes: {e}")))?;
        if read == 0 {
            break;
        }
        out.write_all(&buffer[..read])
            .map_err(|source| DataError::Write {
                path: path.to_path_buf(),
                source,
            })?;
        bytes += read as u64;
        progress(Progress {
            file: name,
            bytes,
            total,
        });
    }
    if let Some(total) = total
        && bytes != total
    {
        return Err(failed(format!("received {bytes} of {total} bytes")));
    }
    out.sync_all().map_err(|source| DataError::Write {
        path: path.to_path_buf(),
        source,
    })
}
