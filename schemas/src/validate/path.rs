//! Dotted paths that name a field in a rejection's detail.

use std::fmt;

/// A path into a JSON value such as `attributes.note` or `ai_tools[2]`.
#[derive(Debug, Default)]
pub struct FieldPath(Vec<Segment>);

#[derive(Debug)]
enum Segment {
    Key(String),
    Index(usize),
}

impl FieldPath {
    /// The path of the whole event.
    pub fn root() -> Self {
        FieldPath(Vec::new())
    }

    /// Descends into the member `key` of an object.
    pub fn push_key(&mut self, key: &str) {
        self.0.push(Segment::Key(key.to_string()));
    }

    /// Descends into the item `index` of an array.
    pub fn push_index(&mut self, index: usize) {
        self.0.push(Segment::Index(index));
    }

    /// Goes back up one level.
    pub fn pop(&mut self) {
        self.0.pop();
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if position == 0 => write!(f, "{key}")?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}
