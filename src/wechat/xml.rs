//! A small, strict reader for WeChat's XML: one `<xml>` root, elements with text or CDATA, and
//! nested lists (subscribe-message events). No DTDs, no entities beyond the predefined five.

use std::borrow::Cow;

use quick_xml::events::Event;
use quick_xml::Reader;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("malformed XML: {0}")]
    Malformed(String),
    #[error("the root element must be <xml>")]
    Root,
    #[error("XML nests too deeply")]
    TooDeep,
    #[error("document type declarations are not accepted")]
    Doctype,
}

/// An element borrowing from the document: names and unescaped text are copied only when
/// they must be (entities, several text pieces), which keeps parsing cheap on the hot path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element<'a> {
    pub name: &'a str,
    pub text: Cow<'a, str>,
    pub children: Vec<Element<'a>>,
}

impl<'a> Element<'a> {
    pub fn child(&self, name: &str) -> Option<&Element<'a>> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Text of a direct child (text outside CDATA is trimmed).
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_ref())
    }

    fn push_text(&mut self, piece: Cow<'a, str>) {
        if piece.is_empty() {
            return;
        }
        if self.text.is_empty() {
            self.text = piece;
        } else {
            self.text.to_mut().push_str(&piece);
        }
    }
}

const MAX_DEPTH: usize = 8;
/// Fields of the largest common message (a location report or a template-send event has 10–13).
const ROOT_FIELDS: usize = 16;

/// The piece of `input` that the reader handed out as `raw`. The reader reads from `input` and
/// splits it at ASCII delimiters, so a piece is a slice of it that begins and ends on character
/// boundaries: found by its offset in constant time, where validating each piece as UTF-8
/// again was the largest single cost of parsing a message.
fn piece_of<'a>(input: &'a str, raw: &[u8]) -> Result<&'a str, XmlError> {
    let start = (raw.as_ptr() as usize).checked_sub(input.as_ptr() as usize);
    start
        .and_then(|start| input.get(start..start.checked_add(raw.len())?))
        .ok_or_else(|| XmlError::Malformed("a piece outside the document".into()))
}

/// Trimmed, keeping the borrow when there is one.
fn trimmed(text: Cow<'_, str>) -> Cow<'_, str> {
    match text {
        Cow::Borrowed(b) => Cow::Borrowed(b.trim()),
        Cow::Owned(o) => Cow::Owned(o.trim().to_string()),
    }
}

pub fn parse(input: &str) -> Result<Element<'_>, XmlError> {
    let mut reader = Reader::from_str(input);
    let mut stack: Vec<Element<'_>> = Vec::with_capacity(MAX_DEPTH);
    let mut root: Option<Element<'_>> = None;
    loop {
        match reader.read_event().map_err(|e| XmlError::Malformed(e.to_string()))? {
            Event::Start(start) => {
                if root.is_some() {
                    return Err(XmlError::Malformed("content after the root element".into()));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                let name = piece_of(input, start.name().as_ref())?;
                if stack.is_empty() && name != "xml" {
                    return Err(XmlError::Root);
                }
                // The root holds a message's dozen fields: room for them at once, not four
                // reallocations while they arrive (two fifths of the parse in a profile of the
                // callback).
                let children = if stack.is_empty() { Vec::with_capacity(ROOT_FIELDS) } else { Vec::new() };
                stack.push(Element { name, children, ..Element::default() });
            }
            Event::Empty(empty) => {
                let name = piece_of(input, empty.name().as_ref())?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Element { name, ..Element::default() }),
                    None if name == "xml" => root = Some(Element { name, ..Element::default() }),
                    None => return Err(XmlError::Root),
                }
            }
            Event::Text(text) => {
                let value = quick_xml::escape::unescape(piece_of(input, &text)?)
                    .map_err(|e| XmlError::Malformed(e.to_string()))?;
                let trimmed = trimmed(value);
                match stack.last_mut() {
                    Some(el) => el.push_text(trimmed),
                    None if trimmed.is_empty() => {}
                    None => return Err(XmlError::Malformed("text outside the root element".into())),
                }
            }
            Event::CData(data) => {
                let value = Cow::Borrowed(piece_of(input, &data)?);
                match stack.last_mut() {
                    Some(el) => el.push_text(value),
                    None => return Err(XmlError::Malformed("CDATA outside the root element".into())),
                }
            }
            Event::End(_) => {
                let done = stack.pop().ok_or_else(|| XmlError::Malformed("unbalanced end tag".into()))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => root = Some(done),
                }
            }
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::Eof => break,
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Malformed("unclosed element".into()));
    }
    root.ok_or_else(|| XmlError::Malformed("empty document".into()))
}

/// Appends `value` to `out` as CDATA, splitting any `]]>` so the section cannot be closed early
/// (a reply is written into one buffer, not assembled from pieces).
pub fn push_cdata(out: &mut String, value: &str) {
    out.push_str("<![CDATA[");
    let mut rest = value;
    while let Some(at) = cdata_end(rest) {
        out.push_str(&rest[..at]);
        out.push_str("]]]]><![CDATA[>");
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    out.push_str("]]>");
}

/// Where `]]>` first starts in `value`. A byte scan: a reply's values are a few dozen bytes, and
/// building `str::find`'s searcher for each of them cost more than the search (685 of a plain
/// callback's 52,000 instructions under callgrind).
fn cdata_end(value: &str) -> Option<usize> {
    let b = value.as_bytes();
    (2..b.len()).find(|&i| b[i] == b'>' && b[i - 1] == b']' && b[i - 2] == b']').map(|i| i - 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_text_cdata_and_nesting() {
        let doc =
            parse("<xml><A><![CDATA[x < y]]></A><B>1 &amp; 2</B><L><I><T>t1</T></I><I><T>t2</T></I></L><E/></xml>")
                .expect("parses");
        assert_eq!(doc.text_of("A"), Some("x < y"));
        assert_eq!(doc.text_of("B"), Some("1 & 2"));
        let items: Vec<&str> = doc.child("L").expect("L").children.iter().filter_map(|i| i.text_of("T")).collect();
        assert_eq!(items, ["t1", "t2"]);
        assert_eq!(doc.text_of("E"), Some(""));
    }

    #[test]
    fn text_outside_cdata_is_unescaped_and_trimmed_whatever_its_script() {
        let doc =
            parse("<xml>\n  <N>  平阴 &#x53BF;&lt;榆山&gt; </N>\n  <M>王静</M><O> a\tb </O>\n</xml>").expect("parses");
        assert_eq!(doc.text_of("N"), Some("平阴 县<榆山>"));
        assert_eq!(doc.text_of("M"), Some("王静"));
        assert_eq!(doc.text_of("O"), Some("a\tb"));
        assert!(parse("<xml><N>&bogus;</N></xml>").is_err());
    }

    #[test]
    fn refuses_what_is_not_wechat_xml() {
        assert_eq!(parse("<root/>"), Err(XmlError::Root));
        assert!(parse("<xml><a></xml>").is_err());
        assert!(parse("<xml>").is_err());
        assert!(parse("").is_err());
        assert!(parse("{\"json\": true}").is_err());
        assert_eq!(
            parse("<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><xml>&e;</xml>"),
            Err(XmlError::Doctype)
        );
        assert!(parse("<xml></xml><xml></xml>").is_err());
        let deep = format!("<xml>{}{}</xml>", "<a>".repeat(20), "</a>".repeat(20));
        assert_eq!(parse(&deep), Err(XmlError::TooDeep));
    }

    fn cdata(value: &str) -> String {
        let mut out = String::new();
        push_cdata(&mut out, value);
        out
    }

    #[test]
    fn the_cdata_end_is_found_where_str_find_finds_it() {
        for value in ["", "]", "]]", "]]>", "a]]>", "]]]>", "]]]]>>", "]>]]", "x]]>y]]>z", "中]]>文", "文]]", "> ]] >"]
        {
            assert_eq!(cdata_end(value), value.find("]]>"), "{value:?}");
        }
    }

    #[test]
    fn cdata_cannot_be_broken_out_of() {
        let written = format!("<xml><C>{}</C></xml>", cdata("a]]><b>evil</b>"));
        assert_eq!(parse(&written).expect("parses").text_of("C"), Some("a]]><b>evil</b>"));
        for value in ["", "]]>", "]]>]]>", "]]]>>", "x]]", "]]>x]]>y", "平阴]]>县"] {
            let written = format!("<xml><C>{}</C></xml>", cdata(value));
            assert_eq!(parse(&written).expect("parses").text_of("C").unwrap_or_default(), value, "{value}");
        }
    }
}
