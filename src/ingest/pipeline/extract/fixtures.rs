//! Test fixtures built in code: DOCX/PPTX packages from hand-written XML, PDFs via lopdf.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Cursor, Write};

use lopdf::content::{Content, Operation};
use lopdf::{Document, Object, Stream, dictionary};
use zip::write::SimpleFileOptions;

pub(super) fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        writer.start_file(*name, options).unwrap();
        writer.write_all(data).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

const W_NS: &str = r#"xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships""#;

/// A DOCX whose `word/document.xml` body is `body` (already `<w:p>`/`<w:tbl>` XML).
pub(super) fn docx(body: &str) -> Vec<u8> {
    let content_types = r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#;
    let rels = r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/></Relationships>"#;
    let doc_rels = r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/><Relationship Id="rId9" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink" Target="https://example.org/" TargetMode="External"/></Relationships>"#;
    // Localised style ids (as a German Word writes them) with the canonical English names.
    let styles = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><w:styles {W_NS}><w:style w:type="paragraph" w:styleId="Standard"><w:name w:val="Normal"/></w:style><w:style w:type="paragraph" w:styleId="Titel"><w:name w:val="Title"/></w:style><w:style w:type="paragraph" w:styleId="berschrift1"><w:name w:val="heading 1"/></w:style><w:style w:type="paragraph" w:styleId="berschrift2"><w:name w:val="heading 2"/></w:style></w:styles>"#
    );
    let document = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document {W_NS}><w:body>{body}<w:sectPr/></w:body></w:document>"#
    );
    let core = r#"<?xml version="1.0" encoding="UTF-8"?><cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Intro &amp; Loops</dc:title></cp:coreProperties>"#;
    zip_of(&[
        ("[Content_Types].xml", content_types.as_bytes()),
        ("_rels/.rels", rels.as_bytes()),
        ("word/_rels/document.xml.rels", doc_rels.as_bytes()),
        ("word/styles.xml", styles.as_bytes()),
        ("word/document.xml", document.as_bytes()),
        ("docProps/core.xml", core.as_bytes()),
    ])
}

pub(super) fn para(style: Option<&str>, text: &str) -> String {
    let ppr = style.map(|s| format!(r#"<w:pPr><w:pStyle w:val="{s}"/></w:pPr>"#)).unwrap_or_default();
    format!(r#"<w:p>{ppr}<w:r><w:t xml:space="preserve">{text}</w:t></w:r></w:p>"#)
}

pub(super) fn table(rows: &[&[&str]]) -> String {
    let rows: String = rows
        .iter()
        .map(|cells| {
            let cells: String = cells.iter().map(|c| format!("<w:tc>{}</w:tc>", para(None, c))).collect();
            format!("<w:tr>{cells}</w:tr>")
        })
        .collect();
    format!("<w:tbl>{rows}</w:tbl>")
}

const P_NS: &str = r#"xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main""#;

fn shape(ph: Option<&str>, paragraphs: &[&str]) -> String {
    let ph = match ph {
        Some("body") => "<p:ph idx=\"1\"/>".to_owned(),
        Some(t) => format!(r#"<p:ph type="{t}"/>"#),
        None => String::new(),
    };
    let paras: String = paragraphs.iter().map(|t| format!("<a:p><a:r><a:t>{t}</a:t></a:r></a:p>")).collect();
    format!(
        "<p:sp><p:nvSpPr><p:cNvPr id=\"2\" name=\"s\"/><p:cNvSpPr/><p:nvPr>{ph}</p:nvPr></p:nvSpPr><p:spPr/>\
         <p:txBody><a:bodyPr/>{paras}</p:txBody></p:sp>"
    )
}

fn slide_xml(shapes: &str, root: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><p:{root} {P_NS}><p:cSld><p:spTree>{shapes}</p:spTree></p:cSld></p:{root}>"#
    )
}

fn rels(entries: &[(&str, &str, &str)]) -> String {
    let body: String = entries
        .iter()
        .map(|(id, kind, target)| {
            format!(r#"<Relationship Id="{id}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/{kind}" Target="{target}"/>"#)
        })
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{body}</Relationships>"#
    )
}

/// Three slides. The files were reordered in the show: the presentation lists slide2.xml, slide1.xml, slide3.xml.
/// slide2.xml has notes linked through its rels; slide3.xml has no rels file, so its notes are found by number.
pub(super) fn pptx() -> Vec<u8> {
    let presentation = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><p:presentation {P_NS}><p:sldIdLst><p:sldId id="256" r:id="rId7"/><p:sldId id="257" r:id="rId3"/><p:sldId id="258" r:id="rId4"/></p:sldIdLst></p:presentation>"#
    );
    let pres_rels = rels(&[
        ("rId3", "slide", "slides/slide1.xml"),
        ("rId7", "slide", "slides/slide2.xml"),
        ("rId4", "slide", "/ppt/slides/slide3.xml"),
        ("rId1", "slideMaster", "slideMasters/slideMaster1.xml"),
    ]);
    let slide1 = slide_xml(
        &(shape(Some("title"), &["Loops"])
            + &shape(Some("body"), &["for x in xs", "while cond"])
            + &shape(Some("sldNum"), &["2"])),
        "sld",
    );
    let slide2 = slide_xml(&(shape(Some("ctrTitle"), &["Python &amp; You"]) + &shape(None, &["Welcome!"])), "sld");
    let slide3 = slide_xml(&shape(Some("body"), &["No title here"]), "sld");
    let notes2 = slide_xml(
        &(shape(Some("sldImg"), &[]) + &shape(Some("body"), &["Say hello first."]) + &shape(Some("sldNum"), &["1"])),
        "notes",
    );
    let notes3 = slide_xml(&shape(Some("body"), &["Notes found by number."]), "notes");
    let slide2_rels = rels(&[
        ("rId1", "slideLayout", "../slideLayouts/slideLayout1.xml"),
        ("rId2", "notesSlide", "../notesSlides/notesSlide9.xml"),
    ]);
    let core = r#"<?xml version="1.0"?><cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title></dc:title></cp:coreProperties>"#;
    zip_of(&[
        ("ppt/presentation.xml", presentation.as_bytes()),
        ("ppt/_rels/presentation.xml.rels", pres_rels.as_bytes()),
        ("ppt/slides/slide1.xml", slide1.as_bytes()),
        ("ppt/slides/slide2.xml", slide2.as_bytes()),
        ("ppt/slides/_rels/slide2.xml.rels", slide2_rels.as_bytes()),
        ("ppt/slides/slide3.xml", slide3.as_bytes()),
        ("ppt/notesSlides/notesSlide9.xml", notes2.as_bytes()),
        ("ppt/notesSlides/notesSlide3.xml", notes3.as_bytes()),
        ("docProps/core.xml", core.as_bytes()),
    ])
}

/// A PDF with one page per entry of `pages`, each showing its text in Helvetica.
pub(super) fn pdf(pages: &[&str]) -> Vec<u8> {
    let mut doc = pdf_doc(pages.len(), |i| pages[i].to_owned());
    save(&mut doc)
}

pub(super) fn pdf_doc(count: usize, text: impl Fn(usize) -> String) -> Document {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica" });
    let resources_id = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
    let kids: Vec<Object> = (0..count)
        .map(|i| {
            let content = Content {
                operations: vec![
                    Operation::new("BT", vec![]),
                    Operation::new("Tf", vec!["F1".into(), 12.into()]),
                    Operation::new("Td", vec![72.into(), 720.into()]),
                    Operation::new("Tj", vec![Object::string_literal(text(i))]),
                    Operation::new("ET", vec![]),
                ],
            };
            let content_id = doc.add_object(Stream::new(dictionary! {}, content.encode().unwrap()));
            doc.add_object(dictionary! {
                "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
            })
            .into()
        })
        .collect();
    let pages = dictionary! {
        "Type" => "Pages", "Kids" => kids, "Count" => count as i64, "Resources" => resources_id,
        "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
    };
    doc.objects.insert(pages_id, Object::Dictionary(pages));
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let info_id = doc.add_object(dictionary! { "Title" => Object::string_literal("Lecture Notes") });
    doc.trailer.set("Info", info_id);
    doc
}

pub(super) fn save(doc: &mut Document) -> Vec<u8> {
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

/// A PDF protected by a user password, encrypted with lopdf's own RC4-128 support.
pub(super) fn encrypted_pdf() -> Vec<u8> {
    let mut doc = pdf_doc(1, |_| "top secret".to_owned());
    doc.trailer
        .set("ID", Object::Array(vec![Object::string_literal(vec![1u8; 16]), Object::string_literal(vec![2u8; 16])]));
    let version = lopdf::EncryptionVersion::V2 {
        document: &doc,
        owner_password: "owner",
        user_password: "student-password",
        key_length: 128,
        permissions: lopdf::Permissions::all(),
    };
    let state = lopdf::EncryptionState::try_from(version).unwrap();
    doc.encrypt(&state).unwrap();
    save(&mut doc)
}
