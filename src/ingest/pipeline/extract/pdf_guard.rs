//! Checks that run on the lopdf document before pdf-extract sees it, for failures `catch_unwind` cannot contain:
//!
//! * decompression bombs — lopdf and pdf-extract inflate streams with an unbounded `read_to_end`;
//! * unbounded recursion — pdf-extract follows `/Parent` chains and nested form XObjects (`Do`) recursively with
//!   no cycle check, and a stack overflow aborts the whole server process rather than unwinding.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;

use lopdf::{Dictionary, Document, Object, ObjectId, Stream};

use super::{ExtractError, Limits, Sink};

/// Object streams hold object definitions, typically kilobytes; the lopdf load filter is a plain `fn`, so this cap
/// cannot come from `Limits`.
const MAX_OBJECT_STREAM_BYTES: u64 = 64 * 1024 * 1024;
/// Longer `/Parent` chains than lopdf's own page-tree depth limit are refused.
const MAX_PARENT_CHAIN: usize = 256;
/// Forms nested deeper than this are not produced by real authoring tools.
const MAX_XOBJECT_DEPTH: usize = 16;

/// lopdf load filter: drops object streams that would inflate absurdly (lopdf decompresses them while loading).
/// The objects inside are then missing, and the document fails later as unreadable, which is the right outcome.
pub(super) fn object_stream_filter(id: ObjectId, object: &mut Object) -> Option<(ObjectId, Object)> {
    if let Object::Stream(stream) = object
        && stream.dict.has_type(b"ObjStm")
        && inflated_size(stream, MAX_OBJECT_STREAM_BYTES).is_none()
    {
        tracing::warn!(?id, "dropping PDF object stream that inflates past the limit");
        return None;
    }
    // lopdf 0.42 uses the returned object only for objects inside object streams (never streams themselves); for
    // top-level objects it keeps `object` and ignores the return value. So leave `object` intact and avoid cloning
    // stream data that would be thrown away.
    Some((id, if matches!(object, Object::Stream(_)) { Object::Null } else { object.clone() }))
}

/// Every stream must inflate to at most `max_uncompressed_bytes`, and non-image streams (content, fonts, forms: what
/// pdf-extract actually decodes) together as well. Images are exempt from the total: large scans are legitimate and
/// only decoded if a page invokes them, one at a time.
pub(super) fn check_stream_sizes(doc: &Document, limits: &Limits, sink: &Sink<'_>) -> Result<(), ExtractError> {
    let cap = limits.max_uncompressed_bytes;
    let mut total = 0u64;
    for (i, object) in doc.objects.values().enumerate() {
        if i % 64 == 0 {
            sink.checkpoint()?;
        }
        let Object::Stream(stream) = object else { continue };
        let size = inflated_size(stream, cap)
            .ok_or_else(|| ExtractError::ZipBomb(format!("a PDF stream inflates past {cap} bytes")))?;
        let is_image = stream.dict.get(b"Subtype").and_then(Object::as_name).is_ok_and(|n| n == b"Image");
        if !is_image {
            total = total.saturating_add(size);
            if total > cap {
                return Err(ExtractError::ZipBomb(format!("PDF streams inflate past {cap} bytes in total")));
            }
        }
    }
    Ok(())
}

/// Inflated size of a Flate stream, `None` past `cap`. Other filters are left alone (lopdf decodes few of them, and
/// none with Flate's ratio); corrupt data counts what inflated before the error.
fn inflated_size(stream: &Stream, cap: u64) -> Option<u64> {
    let flate = stream.filters().is_ok_and(|f| f.first().is_some_and(|name| *name == b"FlateDecode"));
    if !flate {
        return Some(stream.content.len() as u64);
    }
    let mut decoder = flate2::read::ZlibDecoder::new(stream.content.as_slice()).take(cap.saturating_add(1));
    let mut chunk = [0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        match decoder.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n as u64,
        }
    }
    (total <= cap).then_some(total)
}

/// Pages pdf-extract could recurse on without end: a cyclic (or absurdly long) `/Parent` chain, or XObjects that
/// invoke themselves directly or through each other.
pub(super) fn recursion_hazards(doc: &Document, pages: &BTreeMap<u32, ObjectId>) -> HashSet<u32> {
    let mut checker = XObjectChecker { doc, invokes: HashMap::new(), safe: HashSet::new() };
    let empty = Dictionary::new();
    pages
        .iter()
        .filter(|&(_, &page)| match page_resources(doc, page) {
            None => true,
            Some(resources) => !checker.terminates(resources.unwrap_or(&empty), &mut Vec::new()),
        })
        .map(|(&number, _)| number)
        .collect()
}

/// The page's inherited `/Resources` (`Some(None)` when there are none), or `None` if the `/Parent` chain —
/// which pdf-extract also climbs for `/MediaBox` — loops or runs too long.
fn page_resources(doc: &Document, page: ObjectId) -> Option<Option<&Dictionary>> {
    let mut seen = HashSet::new();
    let mut resources = None;
    let mut current = Some(page);
    while let Some(id) = current {
        if !seen.insert(id) || seen.len() > MAX_PARENT_CHAIN {
            return None;
        }
        let Ok(dict) = doc.get_dictionary(id) else { break };
        if resources.is_none() {
            resources =
                dict.get(b"Resources").ok().and_then(|r| doc.dereference(r).ok()).and_then(|(_, r)| r.as_dict().ok());
        }
        current = dict.get(b"Parent").and_then(Object::as_reference).ok();
    }
    Some(resources)
}

struct XObjectChecker<'a> {
    doc: &'a Document,
    /// Whether an XObject's content contains a `Do` operator at all (most forms are leaves).
    invokes: HashMap<ObjectId, bool>,
    /// (XObject, resources it resolves names against) already proven to terminate.
    safe: HashSet<(ObjectId, *const Dictionary)>,
}

impl<'a> XObjectChecker<'a> {
    /// Mirrors pdf-extract's `Do`: any XObject named in `resources` may be run; it resolves names in its own
    /// `/Resources`, else in the caller's.
    fn terminates(&mut self, resources: &'a Dictionary, stack: &mut Vec<ObjectId>) -> bool {
        let Some(xobjects) = resources
            .get(b"XObject")
            .ok()
            .and_then(|x| self.doc.dereference(x).ok())
            .and_then(|(_, x)| x.as_dict().ok())
        else {
            return true;
        };
        for (_, value) in xobjects.iter() {
            let Ok(id) = value.as_reference() else { continue };
            if stack.contains(&id) {
                return false;
            }
            let Ok(Object::Stream(stream)) = self.doc.get_object(id) else { continue };
            if !self.invokes_xobjects(id, stream) {
                continue;
            }
            if stack.len() >= MAX_XOBJECT_DEPTH {
                return false;
            }
            let own = stream.dict.get(b"Resources").ok().and_then(|r| self.doc.dereference(r).ok());
            let effective = own.and_then(|(_, r)| r.as_dict().ok()).unwrap_or(resources);
            let key = (id, std::ptr::from_ref(effective));
            if self.safe.contains(&key) {
                continue;
            }
            stack.push(id);
            let ok = self.terminates(effective, stack);
            stack.pop();
            if !ok {
                return false;
            }
            self.safe.insert(key);
        }
        true
    }

    fn invokes_xobjects(&mut self, id: ObjectId, stream: &Stream) -> bool {
        *self.invokes.entry(id).or_insert_with(|| {
            // Same bytes pdf-extract would interpret: decoded if possible, raw otherwise.
            let content = stream.decompressed_content().unwrap_or_else(|_| stream.content.clone());
            has_do_operator(&content)
        })
    }
}

/// Looks for the `Do` operator as a whole token. A false positive only costs a deeper check.
fn has_do_operator(content: &[u8]) -> bool {
    let delimiter = |b: u8| b.is_ascii_whitespace() || b"()<>[]{}/%".contains(&b);
    content.windows(2).enumerate().any(|(i, w)| {
        w == b"Do" && (i == 0 || delimiter(content[i - 1])) && content.get(i + 2).is_none_or(|b| delimiter(*b))
    })
}
