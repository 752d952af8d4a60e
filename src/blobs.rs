//! Uploaded images, stored sealed (AES-256-GCM under the data key) by the SHA-256 of the image in
//! a local directory (configurable). Content is judged by its bytes, never by a file name or a
//! header the client sent.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::crypto::PersonalDataCipher;

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

/// What an upload is judged by, as one pure step (also what the image fuzz target runs): the
/// type its first bytes claim, then the whole file decoded as that type under the limits → the
/// type and the size in pixels.
pub fn check_image(bytes: &[u8]) -> Result<(ImageType, u32, u32), BlobError> {
    let image_type = ImageType::sniff(bytes).ok_or(BlobError::NotAnImage)?;
    let format = match image_type {
        ImageType::Jpeg => image::ImageFormat::Jpeg,
        ImageType::Png => image::ImageFormat::Png,
    };
    let (width, height) = decode_bounded(bytes, format)?;
    Ok((image_type, width, height))
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
    #[error("stored image {0} does not open: {1}")]
    Sealed(String, crate::crypto::CryptoError),
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
    cipher: PersonalDataCipher,
}

/// What `reseal_all` did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ResealReport {
    /// Files sealed again under the current key (clear ones and ones under an older key).
    pub resealed: u64,
    /// Files already under the current key.
    pub current: u64,
}

impl BlobStore {
    /// Images are sealed with the cipher's current data key (AES-256-GCM, key id in each file's
    /// header) and opened with whichever key sealed them.
    pub fn new(dir: impl Into<PathBuf>, cipher: PersonalDataCipher) -> BlobStore {
        BlobStore { dir: dir.into(), cipher }
    }

    fn path_for(&self, sha256: &str) -> PathBuf {
        self.dir.join(&sha256[..2]).join(sha256)
    }

    /// Reads an upload (at most `limit` bytes, checking type and size as chunks come), decodes
    /// it whole under the limits (a body that only starts like an image is refused, and a
    /// decompression bomb is refused here rather than at print time), and stores it sealed under
    /// its hash. Nothing is written until the whole upload is in and valid, and nothing is ever
    /// written in clear.
    pub async fn store_image<S, E>(&self, chunks: S, limit: usize) -> Result<StoredBlob, BlobError>
    where
        S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        self.store(chunks, limit, 1).await
    }

    /// Like `store_image`, for a photo a person must make out: at least `min_side` pixels each
    /// way.
    pub async fn store_photo<S, E>(&self, chunks: S, limit: usize, min_side: u32) -> Result<StoredBlob, BlobError>
    where
        S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        self.store(chunks, limit, min_side).await
    }

    async fn store<S, E>(&self, mut chunks: S, limit: usize, min_side: u32) -> Result<StoredBlob, BlobError>
    where
        S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        use futures_util::StreamExt;
        let mut bytes = Vec::new();
        let mut image_type = None;
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| BlobError::Io(std::io::Error::other(e.to_string())))?;
            if bytes.len() + chunk.len() > limit {
                return Err(BlobError::TooLarge);
            }
            bytes.extend_from_slice(&chunk);
            if image_type.is_none() && bytes.len() >= 8 {
                image_type = Some(ImageType::sniff(&bytes).ok_or(BlobError::NotAnImage)?);
            }
        }
        if bytes.is_empty() {
            return Err(BlobError::Empty);
        }
        let image_type = match image_type {
            Some(t) => t,
            None => ImageType::sniff(&bytes).ok_or(BlobError::NotAnImage)?,
        };
        let bytes = std::sync::Arc::new(bytes);
        let (_, width, height) = {
            let _slot = decode_slots().acquire().await.map_err(std::io::Error::other)?;
            // Decoding is CPU work of tens of milliseconds: off the async workers.
            let image = bytes.clone();
            tokio::task::spawn_blocking(move || check_image(&image)).await.map_err(std::io::Error::other)??
        };
        if width < min_side || height < min_side {
            return Err(BlobError::TooSmall { width, height, min: min_side });
        }
        let sha256 = hex::encode(Sha256::digest(bytes.as_slice()));
        let size = bytes.len() as u64;
        let sealed = self.cipher.seal_blob(&sha256, &bytes);
        self.write(&sha256, &sealed).await?;
        Ok(StoredBlob { sha256, size, image_type })
    }

    /// Writes a file under its name through a temporary file, so a reader never sees half of it.
    async fn write(&self, sha256: &str, contents: &[u8]) -> Result<(), BlobError> {
        tokio::fs::create_dir_all(self.dir.join("tmp")).await?;
        let tmp = self.dir.join("tmp").join(uuid::Uuid::new_v4().simple().to_string());
        let written = async {
            let mut file = tokio::fs::File::create(&tmp).await?;
            file.write_all(contents).await?;
            file.sync_all().await?;
            let dest = self.path_for(sha256);
            if let Some(parent) = dest.parent() {
                tokio::fs::create_dir_all(parent).await?;
            }
            tokio::fs::rename(&tmp, &dest).await
        }
        .await;
        if written.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        Ok(written?)
    }

    /// The image as uploaded: opened with the key that sealed it (a file stored before images
    /// were sealed is read as it is).
    pub async fn read(&self, sha256: &str) -> Result<Vec<u8>, BlobError> {
        if !is_name(sha256) {
            return Err(BlobError::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, "bad hash")));
        }
        let stored = tokio::fs::read(self.path_for(sha256)).await?;
        self.cipher.open_blob(sha256, &stored).map_err(|e| BlobError::Sealed(sha256.to_string(), e))
    }

    /// Removes an image for good (retention); one already gone is not an error.
    pub async fn remove(&self, sha256: &str) -> Result<(), BlobError> {
        if !is_name(sha256) {
            return Err(BlobError::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, "bad hash")));
        }
        match tokio::fs::remove_file(self.path_for(sha256)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Seals every file that is in clear or under an older key with the current key (`birthcert
    /// crypto rotate`). Each file is checked against its name before it is rewritten; one that
    /// does not open stops the run (nothing is lost: it is left as it was).
    pub async fn reseal_all(&self) -> Result<ResealReport, BlobError> {
        let mut report = ResealReport::default();
        let Ok(mut shards) = tokio::fs::read_dir(&self.dir).await else { return Ok(report) };
        while let Some(shard) = shards.next_entry().await? {
            if shard.file_name() == "tmp" || !shard.file_type().await?.is_dir() {
                continue;
            }
            let mut files = tokio::fs::read_dir(shard.path()).await?;
            while let Some(file) = files.next_entry().await? {
                let name = file.file_name().to_string_lossy().to_string();
                if !is_name(&name) {
                    continue;
                }
                let stored = tokio::fs::read(file.path()).await?;
                let key_id = crate::crypto::blob_key_id(&stored).map_err(|e| BlobError::Sealed(name.clone(), e))?;
                if self.cipher.is_current(key_id) {
                    report.current += 1;
                    continue;
                }
                let clear = self.cipher.open_blob(&name, &stored).map_err(|e| BlobError::Sealed(name.clone(), e))?;
                if hex::encode(Sha256::digest(&clear)) != name {
                    return Err(BlobError::Sealed(name, crate::crypto::CryptoError::Authentication));
                }
                self.write(&name, &self.cipher.seal_blob(&name, &clear)).await?;
                report.resealed += 1;
            }
        }
        Ok(report)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn is_name(sha256: &str) -> bool {
    sha256.len() == 64 && sha256.bytes().all(|c| c.is_ascii_hexdigit())
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

    fn cipher(key_id: &str, key: u8) -> PersonalDataCipher {
        PersonalDataCipher::new(key_id, &[key; 32], [9u8; 32])
    }

    #[tokio::test]
    async fn stores_by_hash_sealed_and_refuses_what_is_not_allowed() {
        let dir = tempfile::tempdir().expect("dir");
        let store = BlobStore::new(dir.path(), cipher("k1", 7));
        let png = png_of(20, 10);
        let chunks = futures_util::stream::iter(vec![
            Ok::<_, std::io::Error>(bytes::Bytes::from(png[..3].to_vec())),
            Ok(bytes::Bytes::from(png[3..].to_vec())),
        ]);
        let stored = store.store_image(chunks, 1024).await.expect("stored");
        assert_eq!(stored.image_type, ImageType::Png);
        assert_eq!(stored.sha256, hex::encode(Sha256::digest(&png)));
        assert_eq!(store.read(&stored.sha256).await.expect("read"), png);
        let on_disk = std::fs::read(store.path_for(&stored.sha256)).expect("file");
        assert!(on_disk.starts_with(b"BCS1") && !on_disk.windows(4).any(|w| w == b"IHDR"), "sealed on disk");
        assert!(image::load_from_memory(&on_disk).is_err());

        // A document is decoded whole too: a body that only starts like a PNG is refused, and so is
        // a header that promises more pixels than any photo has.
        let one = |b: Vec<u8>| futures_util::stream::iter(vec![Ok::<_, std::io::Error>(bytes::Bytes::from(b))]);
        let only_starts_like_a_png = b"\x89PNG\r\n\x1a\nrest-of-image".to_vec();
        assert!(matches!(store.store_image(one(only_starts_like_a_png), 1024).await, Err(BlobError::NotAnImage)));
        assert!(matches!(
            store.store_image(one(png_of(1, MAX_SIDE + 1)), 1 << 20).await,
            Err(BlobError::TooManyPixels)
        ));

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

    #[tokio::test]
    async fn rotation_reseals_clear_and_old_files_and_keeps_every_image() {
        let dir = tempfile::tempdir().expect("dir");
        let old = BlobStore::new(dir.path(), cipher("k1", 7));
        let one = |b: Vec<u8>| futures_util::stream::iter(vec![Ok::<_, std::io::Error>(bytes::Bytes::from(b))]);
        let first = png_of(3, 4);
        let sealed_old = old.store_image(one(first.clone()), 1024).await.expect("stored");
        // A file from before images were sealed.
        let clear = png_of(5, 6);
        let clear_name = hex::encode(Sha256::digest(&clear));
        std::fs::create_dir_all(dir.path().join(&clear_name[..2])).expect("shard");
        std::fs::write(old.path_for(&clear_name), &clear).expect("clear file");

        let new = BlobStore::new(dir.path(), cipher("k2", 8).with_previous_key("k1", &[7; 32]));
        assert_eq!(new.read(&clear_name).await.expect("clear reads"), clear);
        assert_eq!(new.reseal_all().await.expect("rotated"), ResealReport { resealed: 2, current: 0 });
        assert_eq!(new.reseal_all().await.expect("again"), ResealReport { resealed: 0, current: 2 });
        // Only the new key is needed from now on.
        let only_new = BlobStore::new(dir.path(), cipher("k2", 8));
        assert_eq!(only_new.read(&clear_name).await.expect("read"), clear);
        assert_eq!(only_new.read(&sealed_old.sha256).await.expect("read"), first);
        assert!(std::fs::read(only_new.path_for(&clear_name)).expect("file").starts_with(b"BCS1\x02k2"));
    }

    fn png_of(width: u32, height: u32) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        image::DynamicImage::new_rgb8(width, height).write_to(&mut out, image::ImageOutputFormat::Png).expect("png");
        out.into_inner()
    }

    #[tokio::test]
    async fn a_photo_must_decode_whole_and_be_large_enough() {
        let dir = tempfile::tempdir().expect("dir");
        let store = BlobStore::new(dir.path(), cipher("k1", 7));
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
