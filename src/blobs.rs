//! Uploaded images, stored by their SHA-256 in a local directory (configurable). Content is
//! judged by its first bytes, never by a file name or a header the client sent.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

pub const MAX_IMAGE_BYTES: usize = 5 * 1024 * 1024;
/// Decoding limits: a phone photo is at most 8,000 pixels on a side (48 MP); 256 MiB holds
/// 8,192 × 8,192 RGB.
pub const MAX_SIDE: u32 = 8192;
pub const MAX_DECODED_BYTES: u64 = 256 << 20;

/// Decodes at once, at most: each decode may hold up to `MAX_DECODED_BYTES`, so a burst of
/// uploads queues here instead of taking the machine's memory.
fn decode_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())))
}

/// Decodes the whole image under the limits → its size in pixels.
fn decode_bounded(bytes: &[u8], format: image::ImageFormat) -> Result<(u32, u32), BlobError> {
    let mut reader = image::io::Reader::with_format(std::io::Cursor::new(bytes), format);
    let mut limits = image::io::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODED_BYTES);
    reader.limits(limits);
    match reader.decode() {
        Ok(image) => Ok((image.width(), image.height())),
        Err(image::ImageError::Limits(_)) => Err(BlobError::TooManyPixels),
        Err(_) => Err(BlobError::NotAnImage),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageType {
    Jpeg,
    Png,
}

impl ImageType {
    pub fn sniff(head: &[u8]) -> Option<ImageType> {
        if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(ImageType::Jpeg)
        } else if head.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
            Some(ImageType::Png)
        } else {
            None
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            ImageType::Jpeg => "image/jpeg",
            ImageType::Png => "image/png",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("file is larger than 5 MiB")]
    TooLarge,
    #[error("file is neither JPEG nor PNG")]
    NotAnImage,
    #[error("file is empty")]
    Empty,
    #[error("the image is {width} × {height} pixels; at least {min} × {min} are needed")]
    TooSmall { width: u32, height: u32, min: u32 },
    /// Larger than any photo needs: refused before it is unpacked (a decompression bomb is a
    /// few kilobytes that unpack into gigabytes).
    #[error("the image is larger than {MAX_SIDE} pixels on a side or {} MiB unpacked", MAX_DECODED_BYTES >> 20)]
    TooManyPixels,
    #[error("blob store: {0}")]
    Io(#[from] std::io::Error),
}

#[derive(Debug, Clone)]
pub struct StoredBlob {
    pub sha256: String,
    pub size: u64,
    pub image_type: ImageType,
}

#[derive(Debug, Clone)]
pub struct BlobStore {
    dir: PathBuf,
}

impl BlobStore {
    pub fn new(dir: impl Into<PathBuf>) -> BlobStore {
        BlobStore { dir: dir.into() }
    }

    fn path_for(&self, sha256: &str) -> PathBuf {
        self.dir.join(&sha256[..2]).join(sha256)
    }

    /// Writes chunks to a temporary file while hashing, checking type and size as they come;
    /// the file is moved under its hash only when complete and valid.
    pub async fn store_image<S, E>(&self, chunks: S, limit: usize) -> Result<StoredBlob, BlobError>
    where
        S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        self.store(chunks, limit, None).await
    }

    /// Like `store_image`, for a photo a person looks at: the whole file must decode as the
    /// image its first bytes claim (a body that only starts like one is refused), and be at least
    /// `min_side` pixels each way.
    pub async fn store_photo<S, E>(&self, chunks: S, limit: usize, min_side: u32) -> Result<StoredBlob, BlobError>
    where
        S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        self.store(chunks, limit, Some(min_side)).await
    }

    async fn store<S, E>(&self, mut chunks: S, limit: usize, min_side: Option<u32>) -> Result<StoredBlob, BlobError>
    where
        S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        use futures_util::StreamExt;
        tokio::fs::create_dir_all(self.dir.join("tmp")).await?;
        let tmp = self.dir.join("tmp").join(uuid::Uuid::new_v4().simple().to_string());
        let result = async {
            let mut file = tokio::fs::File::create(&tmp).await?;
            let mut hasher = Sha256::new();
            let mut size = 0usize;
            let mut head = Vec::with_capacity(8);
            let mut image_type = None;
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk.map_err(|e| BlobError::Io(std::io::Error::other(e.to_string())))?;
                size += chunk.len();
                if size > limit {
                    return Err(BlobError::TooLarge);
                }
                if image_type.is_none() {
                    head.extend_from_slice(&chunk[..chunk.len().min(8 - head.len().min(8))]);
                    if head.len() >= 8 || size >= 8 {
                        image_type = Some(ImageType::sniff(&head).ok_or(BlobError::NotAnImage)?);
                    }
                }
                hasher.update(&chunk);
                file.write_all(&chunk).await?;
            }
            if size == 0 {
                return Err(BlobError::Empty);
            }
            let image_type = match image_type {
                Some(t) => t,
                None => ImageType::sniff(&head).ok_or(BlobError::NotAnImage)?,
            };
            file.flush().await?;
            if let Some(min) = min_side {
                let bytes = tokio::fs::read(&tmp).await?;
                let format = match image_type {
                    ImageType::Jpeg => image::ImageFormat::Jpeg,
                    ImageType::Png => image::ImageFormat::Png,
                };
                let _slot = decode_slots().acquire().await.map_err(std::io::Error::other)?;
                // Decoding is CPU work of tens of milliseconds: off the async workers.
                let (width, height) = tokio::task::spawn_blocking(move || decode_bounded(&bytes, format))
                    .await
                    .map_err(std::io::Error::other)??;
                if width < min || height < min {
                    return Err(BlobError::TooSmall { width, height, min });
                }
            }
            let sha256 = hex::encode(hasher.finalize());
            let dest = self.path_for(&sha256);
            if let Some(parent) = dest.parent() {
                tokio::fs::create_dir_all(parent).await?;
            }
            tokio::fs::rename(&tmp, &dest).await?;
            Ok(StoredBlob { sha256, size: size as u64, image_type })
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result
    }

    pub async fn read(&self, sha256: &str) -> Result<Vec<u8>, BlobError> {
        if sha256.len() != 64 || !sha256.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(BlobError::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, "bad hash")));
        }
        Ok(tokio::fs::read(self.path_for(sha256)).await?)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing_looks_at_content() {
        assert_eq!(ImageType::sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0, 0, 0]), Some(ImageType::Jpeg));
        assert_eq!(ImageType::sniff(b"\x89PNG\r\n\x1a\n...."), Some(ImageType::Png));
        assert_eq!(ImageType::sniff(b"GIF89a.."), None);
        assert_eq!(ImageType::sniff(b"%PDF-1.4"), None);
        assert_eq!(ImageType::sniff(b""), None);
    }

    #[tokio::test]
    async fn stores_by_hash_and_refuses_what_is_not_allowed() {
        let dir = tempfile::tempdir().expect("dir");
        let store = BlobStore::new(dir.path());
        let png = b"\x89PNG\r\n\x1a\nrest-of-image".to_vec();
        let chunks = futures_util::stream::iter(vec![
            Ok::<_, std::io::Error>(bytes::Bytes::from(png[..3].to_vec())),
            Ok(bytes::Bytes::from(png[3..].to_vec())),
        ]);
        let stored = store.store_image(chunks, 1024).await.expect("stored");
        assert_eq!(stored.image_type, ImageType::Png);
        assert_eq!(stored.sha256, hex::encode(Sha256::digest(&png)));
        assert_eq!(store.read(&stored.sha256).await.expect("read"), png);

        let gif =
            futures_util::stream::iter(vec![Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"GIF89a-not-allowed"))]);
        assert!(matches!(store.store_image(gif, 1024).await, Err(BlobError::NotAnImage)));
        let big = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(bytes::Bytes::from(vec![
            0xFF, 0xD8, 0xFF, 0, 0, 0, 0, 0, 0, 0,
        ]))]);
        assert!(matches!(store.store_image(big, 5).await, Err(BlobError::TooLarge)));
        // Nothing half-written is left behind.
        assert_eq!(std::fs::read_dir(dir.path().join("tmp")).expect("tmp").count(), 0);
    }

    fn png_of(width: u32, height: u32) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        image::DynamicImage::new_rgb8(width, height).write_to(&mut out, image::ImageOutputFormat::Png).expect("png");
        out.into_inner()
    }

    #[tokio::test]
    async fn a_photo_must_decode_whole_and_be_large_enough() {
        let dir = tempfile::tempdir().expect("dir");
        let store = BlobStore::new(dir.path());
        let one = |b: Vec<u8>| futures_util::stream::iter(vec![Ok::<_, std::io::Error>(bytes::Bytes::from(b))]);
        assert!(store.store_photo(one(png_of(300, 320)), 1 << 20, 300).await.is_ok());
        assert!(matches!(
            store.store_photo(one(png_of(299, 400)), 1 << 20, 300).await,
            Err(BlobError::TooSmall { width: 299, height: 400, min: 300 })
        ));
        let mut truncated = png_of(400, 400);
        truncated.truncate(40);
        assert!(matches!(store.store_photo(one(truncated), 1 << 20, 300).await, Err(BlobError::NotAnImage)));
        let only_starts_like_a_jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 4, 5];
        assert!(matches!(
            store.store_photo(one(only_starts_like_a_jpeg), 1 << 20, 300).await,
            Err(BlobError::NotAnImage)
        ));
        // Wider than any photo: refused from its header, before anything is unpacked.
        assert!(matches!(
            store.store_photo(one(png_of(MAX_SIDE + 1, 1)), 1 << 20, 1).await,
            Err(BlobError::TooManyPixels)
        ));
        // Only the accepted photo was kept.
        let kept: usize = std::fs::read_dir(dir.path())
            .expect("dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name() != "tmp")
            .count();
        assert_eq!(kept, 1);
    }
}
