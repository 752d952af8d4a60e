//! The registration form as a printable A4 PDF: every field of the frozen form, the mother's
//! e-signature image, the form's digest and the certificate number. Chinese text needs an
//! embedded CJK font (`pdf.font_path`, by default Debian's WenQuanYi Zen Hei); only the glyphs
//! used are embedded.

use std::io::{BufWriter, Cursor};

use printpdf::{Image, ImageTransform, Mm, PdfDocument};

use std::path::PathBuf;
use std::sync::Arc;

use super::application_in;
use crate::blobs::BlobStore;
use crate::domain::registration_form::{FormParent, RegistrationForm};
use crate::persistence::audit::Actor;
use crate::persistence::{certificates, signatures, Db};
use crate::services::{audit_read, PersonalRead, ServiceError};

/// The CJK font for printed forms, read on the first print (tens of MB; printing is rare, and a
/// missing font must not stop the service) and kept.
#[derive(Debug)]
pub struct PrintFont {
    path: PathBuf,
    bytes: tokio::sync::OnceCell<Arc<Vec<u8>>>,
}

impl PrintFont {
    pub fn new(path: PathBuf) -> PrintFont {
        PrintFont { path, bytes: tokio::sync::OnceCell::new() }
    }

    pub(crate) async fn bytes(&self) -> Result<Arc<Vec<u8>>, ServiceError> {
        let bytes = self
            .bytes
            .get_or_try_init(|| async {
                tokio::fs::read(&self.path).await.map(Arc::new).map_err(|e| ServiceError::Unavailable {
                    code: "pdf_font_missing",
                    message: format!(
                        "the CJK font for printing is missing ({}: {e}); set pdf.font_path",
                        self.path.display()
                    ),
                })
            })
            .await?;
        Ok(bytes.clone())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("font: {0}")]
    Font(String),
    #[error("pdf: {0}")]
    Write(String),
}

fn sex(s: &str) -> &str {
    match s {
        "male" => "男",
        "female" => "女",
        _ => "不详",
    }
}

fn health(s: &str) -> &str {
    match s {
        "good" => "良好",
        "fair" => "一般",
        "poor" => "差",
        other => other,
    }
}

fn id_type(s: &str) -> &str {
    match s {
        "resident_id" => "居民身份证",
        "hk_macao_permit" => "港澳居民来往内地通行证",
        "taiwan_permit" => "台湾居民来往大陆通行证",
        "passport" => "护照",
        "foreign_permanent_residence_id" => "外国人永久居留身份证",
        other => other,
    }
}

fn parent_lines(role: &str, p: &FormParent) -> Vec<(String, String)> {
    vec![
        (format!("{role}姓名"), p.name.clone()),
        (format!("{role}年龄"), p.age.map(|a| a.to_string()).unwrap_or_default()),
        (format!("{role}国籍"), p.nationality.clone()),
        (format!("{role}民族"), p.ethnicity.clone()),
        (format!("{role}有效身份证件类别"), id_type(&p.id_type).to_string()),
        (format!("{role}有效身份证件号码"), p.id_number.clone()),
    ]
}

/// Every printed line, label and value, in the order of the paper form.
pub fn lines(form: &RegistrationForm, digest: &str, certificate_number: Option<&str>) -> Vec<(String, String)> {
    let mut l = vec![
        ("出生医学证明编号".to_string(), certificate_number.unwrap_or("（待签发）").to_string()),
        ("新生儿姓名".into(), form.newborn_name.clone().unwrap_or_default()),
        ("性别".into(), sex(&form.baby_sex).to_string()),
        ("出生时间".into(), form.birth_at.clone()),
        ("出生地点".into(), form.birth_place.clone()),
        ("出生孕周".into(), format!("{} 周", form.gestational_weeks)),
        ("健康状况".into(), health(&form.health_status).to_string()),
        ("出生体重".into(), format!("{} 克", form.weight_g)),
        ("出生身长".into(), format!("{} 厘米", form.length_cm)),
    ];
    l.extend(parent_lines("母亲", &form.mother));
    l.extend(parent_lines("父亲", &form.father));
    l.extend([
        ("接生人员".into(), form.midwife_name.clone()),
        ("接生机构名称".into(), form.midwifery_institution.clone()),
        ("签发机构".into(), form.issuing_institution.clone()),
        ("登记表摘要 (SHA-256)".into(), digest.to_string()),
    ]);
    l
}

/// Renders the form; `signature_png` is the mother's e-signature, placed under the fields.
pub fn render(
    form: &RegistrationForm,
    digest: &str,
    certificate_number: Option<&str>,
    signature_png: Option<&[u8]>,
    font: &[u8],
) -> Result<Vec<u8>, PdfError> {
    let (doc, page, layer) = PdfDocument::new("出生医学证明首次签发登记表", Mm(210.0), Mm(297.0), "form");
    let font = doc.add_external_font(Cursor::new(font)).map_err(|e| PdfError::Font(e.to_string()))?;
    let layer = doc.get_page(page).get_layer(layer);
    layer.use_text("出生医学证明首次签发登记表", 18.0, Mm(45.0), Mm(275.0), &font);
    // A bordered table, label cell and value cell per row, as the paper form is laid out.
    let (left, split, right) = (15.0, 70.0, 195.0);
    let table =
        Table { left, right, columns: 1, label_share: (split - left) / (right - left), row: 8.0, sizes: (9.5, 10.5) };
    let top = table.draw(&layer, &font, &lines(form, digest, certificate_number), 268.0);
    // The mother's signature in a cell of its own under the table.
    let sign_h = 32.0;
    frame(&layer, (left, top - sign_h), split - left, sign_h);
    frame(&layer, (split, top - sign_h), right - split, sign_h);
    layer.use_text("母亲签名", 9.5, Mm(left + 2.0), Mm(top - sign_h / 2.0), &font);
    place_signature(&layer, &font, signature_png, (split + 5.0, top - sign_h + 4.0), 60.0);
    save(doc)
}

fn save(doc: printpdf::PdfDocumentReference) -> Result<Vec<u8>, PdfError> {
    let mut out = BufWriter::new(Vec::new());
    doc.save(&mut out).map_err(|e| PdfError::Write(e.to_string()))?;
    out.into_inner().map_err(|e| PdfError::Write(e.to_string()))
}

/// The mother's e-signature at `at` (mm, lower left), scaled to `width_mm` whatever its pixel
/// size; a note instead when there is none or it does not decode.
fn place_signature(
    layer: &printpdf::PdfLayerReference,
    font: &printpdf::IndirectFontRef,
    signature_png: Option<&[u8]>,
    at: (f32, f32),
    width_mm: f32,
) {
    match signature_png.map(image::load_from_memory) {
        Some(Ok(img)) => {
            let img = on_white(&img);
            let width_px = img.width().max(1) as f32;
            let dpi = (width_px / (width_mm / 25.4)).max(1.0);
            Image::from_dynamic_image(&img).add_to_layer(
                layer.clone(),
                ImageTransform {
                    translate_x: Some(Mm(at.0)),
                    translate_y: Some(Mm(at.1)),
                    dpi: Some(dpi),
                    ..Default::default()
                },
            );
        }
        Some(Err(_)) | None => {
            layer.use_text("（签名图像不可读，见电子档案）", 10.5, Mm(at.0), Mm(at.1 + 16.0), font);
        }
    }
}

/// The signature laid on white paper: no transparency left. printpdf declares an image's soft
/// mask with the wrong size for non-square images, which strict readers refuse; ink on white is
/// all the paper shows anyway.
fn on_white(img: &image::DynamicImage) -> image::DynamicImage {
    let rgba = img.to_rgba8();
    let mut out = image::RgbImage::new(rgba.width(), rgba.height());
    for (x, y, p) in rgba.enumerate_pixels() {
        let a = u16::from(p[3]);
        let blend = |c: u8| ((u16::from(c) * a + 255 * (255 - a)) / 255) as u8;
        out.put_pixel(x, y, image::Rgb([blend(p[0]), blend(p[1]), blend(p[2])]));
    }
    image::DynamicImage::ImageRgb8(out)
}

/// Label/value pairs in bordered cells, `columns` pairs to a row, as the paper forms are laid
/// out: each pair a label cell (`label_share` of the pair's width) and a value cell.
struct Table {
    left: f32,
    right: f32,
    columns: usize,
    label_share: f32,
    /// Row height, mm.
    row: f32,
    /// Label and value text sizes, pt; a value too long for its cell is set smaller.
    sizes: (f32, f32),
}

impl Table {
    /// Draws the pairs from `top` down → the y under the last row.
    fn draw(
        &self,
        layer: &printpdf::PdfLayerReference,
        font: &printpdf::IndirectFontRef,
        pairs: &[(String, String)],
        top: f32,
    ) -> f32 {
        let columns = self.columns.max(1);
        let pair_w = (self.right - self.left) / columns as f32;
        let label_w = pair_w * self.label_share;
        let baseline = self.row * 0.32;
        for (i, (label, value)) in pairs.iter().enumerate() {
            let x = self.left + pair_w * (i % columns) as f32;
            let y = top - self.row * (i / columns + 1) as f32;
            frame(layer, (x, y), label_w, self.row);
            frame(layer, (x + label_w, y), pair_w - label_w, self.row);
            layer.use_text(label.as_str(), fit(label, label_w, self.sizes.0), Mm(x + 1.5), Mm(y + baseline), font);
            let value_w = pair_w - label_w;
            layer.use_text(
                value.as_str(),
                fit(value, value_w, self.sizes.1),
                Mm(x + label_w + 1.5),
                Mm(y + baseline),
                font,
            );
        }
        top - self.row * pairs.len().div_ceil(columns) as f32
    }
}

/// A text size at most `size` pt at which `text` fits `width` mm (a CJK glyph is about one em
/// wide, a Latin one about half), never below 5 pt.
fn fit(text: &str, width: f32, size: f32) -> f32 {
    let ems: f32 = text.chars().map(|c| if c.is_ascii() { 0.55 } else { 1.0 }).sum();
    let mm_per_pt = 25.4 / 72.0;
    let fits = (width - 3.0) / (ems.max(1.0) * mm_per_pt);
    size.min(fits).max(5.0)
}

/// A rectangle's outline, lower left `at`, `w` × `h` mm.
fn frame(layer: &printpdf::PdfLayerReference, at: (f32, f32), w: f32, h: f32) {
    use printpdf::{Line, Point};
    let (x, y) = at;
    let corners = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)];
    layer.add_line(Line {
        points: corners.iter().map(|(a, b)| (Point::new(Mm(*a), Mm(*b)), false)).collect(),
        is_closed: true,
    });
}

/// The certificate's fields in the order of the paper certificate (the stub repeats them).
pub fn certificate_lines(form: &RegistrationForm, number: &str, issued_on: &str) -> Vec<(String, String)> {
    vec![
        ("新生儿姓名".into(), form.newborn_name.clone().unwrap_or_default()),
        ("性别".into(), sex(&form.baby_sex).to_string()),
        ("出生时间".into(), form.birth_at.clone()),
        ("出生孕周".into(), format!("{} 周", form.gestational_weeks)),
        ("出生体重".into(), format!("{} 克", form.weight_g)),
        ("出生身长".into(), format!("{} 厘米", form.length_cm)),
        ("出生地点".into(), form.birth_place.clone()),
        ("健康状况".into(), health(&form.health_status).to_string()),
        ("母亲姓名".into(), form.mother.name.clone()),
        ("母亲有效身份证件号码".into(), form.mother.id_number.clone()),
        ("父亲姓名".into(), form.father.name.clone()),
        ("父亲有效身份证件号码".into(), form.father.id_number.clone()),
        ("接生机构名称".into(), form.midwifery_institution.clone()),
        ("出生证编号".into(), number.to_string()),
        ("签发日期".into(), issued_on.to_string()),
        ("签发机构".into(), form.issuing_institution.clone()),
    ]
}

/// A QR code of `text` as a grey image: 4 pixels a module, the 4-module quiet zone around it.
fn qr_image(text: &str) -> Result<image::DynamicImage, PdfError> {
    let code = qrcode::QrCode::new(text.as_bytes()).map_err(|e| PdfError::Write(format!("QR code: {e}")))?;
    let (modules, scale, quiet) = (code.width(), 4u32, 4u32);
    let colors = code.to_colors();
    let side = (u32::try_from(modules).unwrap_or(0) + 2 * quiet) * scale;
    let img = image::GrayImage::from_fn(side, side, |x, y| {
        let (mx, my) = ((x / scale).checked_sub(quiet), (y / scale).checked_sub(quiet));
        let dark = match (mx, my) {
            (Some(mx), Some(my)) if (mx as usize) < modules && (my as usize) < modules => {
                colors[my as usize * modules + mx as usize] == qrcode::Color::Dark
            }
            _ => false,
        };
        image::Luma([if dark { 0 } else { 255 }])
    });
    Ok(image::DynamicImage::ImageLuma8(img))
}

/// The certificate (upper half) and its stub (存根, lower half) on one A4 sheet, cut apart
/// along the line between them; the stub's witness box (见证人签字) holds the mother's
/// e-signature. The seal is stamped by hand on the certificate's 签发机构 line. The certificate
/// carries the authenticity check's QR code, with its address printed beside it for those who
/// cannot scan.
pub fn render_certificate(
    form: &RegistrationForm,
    number: &str,
    issued_on: &str,
    verify_url: &str,
    signature_png: Option<&[u8]>,
    font: &[u8],
) -> Result<Vec<u8>, PdfError> {
    let (doc, page, layer) = PdfDocument::new("出生医学证明", Mm(210.0), Mm(297.0), "certificate");
    let font = doc.add_external_font(Cursor::new(font)).map_err(|e| PdfError::Font(e.to_string()))?;
    let layer = doc.get_page(page).get_layer(layer);
    let lines = certificate_lines(form, number, issued_on);
    // The certificate: two columns of fields.
    layer.use_text("出生医学证明", 20.0, Mm(80.0), Mm(282.0), &font);
    layer.use_text(format!("编号 {number}"), 10.5, Mm(150.0), Mm(274.0), &font);
    // The fields in bordered cells, two to a row in the paper certificate's order.
    frame(&layer, (15.0, 160.0), 180.0, 108.0);
    let certificate = Table { left: 15.0, right: 195.0, columns: 2, label_share: 0.36, row: 10.0, sizes: (8.5, 10.5) };
    certificate.draw(&layer, &font, &lines, 268.0);
    // The authenticity check: about 22 mm square, bottom right of the certificate.
    let qr = qr_image(verify_url)?;
    let dpi = (qr.width().max(1) as f32 / (22.0 / 25.4)).max(1.0);
    Image::from_dynamic_image(&qr).add_to_layer(
        layer.clone(),
        ImageTransform {
            translate_x: Some(Mm(170.0)),
            translate_y: Some(Mm(163.0)),
            dpi: Some(dpi),
            ..Default::default()
        },
    );
    layer.use_text("扫码或访问以下地址核验真伪：", 7.5, Mm(20.0), Mm(166.0), &font);
    layer.use_text(verify_url, 7.0, Mm(20.0), Mm(162.0), &font);
    layer.use_text(
        "- - - - - - - - - - - - - - - - 沿此线裁开 - - - - - - - - - - - - - - - -",
        9.0,
        Mm(30.0),
        Mm(150.0),
        &font,
    );
    // The stub: the same fields, compact, and the witness box.
    layer.use_text("出生医学证明存根", 16.0, Mm(75.0), Mm(138.0), &font);
    frame(&layer, (15.0, 15.0), 180.0, 115.0);
    let stub = Table { left: 15.0, right: 195.0, columns: 2, label_share: 0.36, row: 7.5, sizes: (7.5, 9.0) };
    stub.draw(&layer, &font, &lines, 130.0);
    layer.use_text("见证人签字：", 10.5, Mm(20.0), Mm(50.0), &font);
    frame(&layer, (55.0, 20.0), 75.0, 35.0);
    place_signature(&layer, &font, signature_png, (60.0, 24.0), 60.0);
    save(doc)
}

/// The officer's printable form for one application of their institution (an audited read).
#[tracing::instrument(skip_all, fields(application_id = %id))]
pub async fn for_application(
    db: &Db,
    cipher: &crate::crypto::PersonalDataCipher,
    blobs: &BlobStore,
    font: &PrintFont,
    officer: &Actor,
    institution: &str,
    id: &str,
) -> Result<Vec<u8>, ServiceError> {
    let app = application_in(db, institution, id).await?;
    let (form, digest) = crate::services::frozen_form(db, cipher, &app.id)
        .await?
        .ok_or_else(|| ServiceError::wrong_state(app.state, "printing the form before the family confirmed it"))?;
    let signature = match signatures::signature_of(db, &app.id).await? {
        Some((sha, _, _)) => blobs.read(&sha).await.ok(),
        None => None,
    };
    let number = certificates::current_certificate(db, &app.id).await?.map(|c| c.number);
    let font = font.bytes().await?;
    audit_read(db, officer, PersonalRead::PrintedForm { application_id: &app.id, form_digest: &digest }).await?;
    tokio::task::spawn_blocking(move || render(&form, &digest, number.as_deref(), signature.as_deref(), &font))
        .await
        .map_err(ServiceError::internal)?
        .map_err(ServiceError::internal)
}

/// The certificate with its stub, for printing (an audited read): only an issued certificate of
/// the officer's institution prints (a voided, lost or delivered one is not printed again).
#[tracing::instrument(skip_all, fields(certificate = %number))]
#[allow(clippy::too_many_arguments)]
pub async fn certificate_for(
    db: &Db,
    cipher: &crate::crypto::PersonalDataCipher,
    public_url: &str,
    blobs: &BlobStore,
    font: &PrintFont,
    officer: &Actor,
    institution: &str,
    number: &str,
) -> Result<Vec<u8>, ServiceError> {
    let (certificate, app) = super::certificates::certificate_in(db, institution, number).await?;
    if certificate.state != crate::domain::certificate::CertificateState::Issued {
        return Err(ServiceError::Conflict {
            code: "certificate_state",
            message: format!("only an issued certificate is printed; {} is {}", certificate.number, certificate.state),
        });
    }
    let (form, _) = crate::services::frozen_form(db, cipher, &app.id)
        .await?
        .ok_or_else(|| ServiceError::internal(anyhow::anyhow!("issued case {} has no frozen form", app.id)))?;
    let signature = match signatures::signature_of(db, &app.id).await? {
        Some((sha, _, _)) => blobs.read(&sha).await.ok(),
        None => None,
    };
    let issued_on = crate::domain::working_days::to_china(certificate.issued_at).format("%Y年%m月%d日").to_string();
    let font = font.bytes().await?;
    let read = PersonalRead::PrintedCertificate { application_id: &app.id, number: &certificate.number };
    audit_read(db, officer, read).await?;
    let verify_url = super::authenticity::url_for(public_url, cipher, &certificate.number);
    let number = certificate.number;
    tokio::task::spawn_blocking(move || {
        render_certificate(&form, &number, &issued_on, &verify_url, signature.as_deref(), &font)
    })
    .await
    .map_err(ServiceError::internal)?
    .map_err(ServiceError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transparent_signature_is_laid_on_white() {
        let mut sig = image::RgbaImage::new(4, 2);
        sig.put_pixel(0, 0, image::Rgba([0, 0, 0, 255]));
        sig.put_pixel(1, 0, image::Rgba([0, 0, 0, 128]));
        let flat = on_white(&image::DynamicImage::ImageRgba8(sig)).to_rgb8();
        assert_eq!((flat.width(), flat.height()), (4, 2));
        assert_eq!(flat.get_pixel(0, 0), &image::Rgb([0, 0, 0]));
        assert_eq!(flat.get_pixel(1, 0), &image::Rgb([127, 127, 127]));
        assert_eq!(flat.get_pixel(3, 1), &image::Rgb([255, 255, 255]), "transparent is paper");
    }

    fn form() -> RegistrationForm {
        let parent = |name: &str, id: &str| FormParent {
            name: name.into(),
            age: Some(31),
            nationality: "中国".into(),
            ethnicity: "汉族".into(),
            id_type: "resident_id".into(),
            id_number: id.into(),
        };
        RegistrationForm {
            newborn_name: Some("张小满".into()),
            baby_sex: "female".into(),
            birth_at: "2026年11月24日08时15分".into(),
            birth_place: "平阴县人民医院".into(),
            gestational_weeks: 39,
            length_cm: 50,
            weight_g: 3300,
            health_status: "good".into(),
            mother: parent("李梅", "370124199503100021"),
            father: parent("张伟", "370124199305210013"),
            midwife_name: "王芳".into(),
            midwifery_institution: "平阴县人民医院".into(),
            issuing_institution: "平阴县人民医院".into(),
        }
    }

    #[test]
    fn every_field_of_the_form_is_printed_in_words_an_officer_reads() {
        let l = lines(&form(), "ab12", Some("R370000001"));
        let find = |label: &str| l.iter().find(|(k, _)| k == label).map(|(_, v)| v.as_str());
        assert_eq!(find("出生医学证明编号"), Some("R370000001"));
        assert_eq!(find("性别"), Some("女"));
        assert_eq!(find("健康状况"), Some("良好"));
        assert_eq!(find("母亲有效身份证件类别"), Some("居民身份证"));
        assert_eq!(find("父亲有效身份证件号码"), Some("370124199305210013"));
        assert_eq!(find("登记表摘要 (SHA-256)"), Some("ab12"));
        assert_eq!(l.len(), 9 + 12 + 4);
        assert_eq!(lines(&form(), "ab12", None)[0].1, "（待签发）");
    }

    /// Needs the CJK font that .ci/run installs (fonts-wqy-zenhei).
    #[test]
    fn the_signature_is_embedded_as_an_image_and_an_unreadable_one_is_said_so() {
        let font = std::fs::read("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc").expect("fonts-wqy-zenhei installed");
        let with = render(&form(), "ab12", Some("R370000001"), Some(crate::demo::PNG_1X1), &font).expect("pdf");
        let without = render(&form(), "ab12", Some("R370000001"), Some(b"not a png"), &font).expect("pdf");
        let has_image = |pdf: &[u8]| pdf.windows(b"/Image".len()).any(|w| w == b"/Image");
        assert!(has_image(&with));
        assert!(!has_image(&without));
    }

    #[test]
    fn a_value_too_long_for_its_cell_is_set_smaller_and_a_short_one_is_not() {
        assert_eq!(fit("张小满", 60.0, 10.5), 10.5);
        let digest = "9f".repeat(32);
        let size = fit(&digest, 120.0, 10.5);
        assert!((5.0..10.5).contains(&size), "{size}");
        // 64 Latin characters at that size fit 120 mm less the padding.
        assert!(64.0 * 0.55 * size * 25.4 / 72.0 <= 117.0 + 0.01);
    }
}
