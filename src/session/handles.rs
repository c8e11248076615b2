//! DAP handles for frames and variable containers, valid while the debuggee is stopped.
//!
//! Owns: [`Handles`]: `frameId` → (thread, frame index) and `variablesReference` →
//! [`Container`]. ptvsd has no variable handles (spec §6.5): a container is "thread +
//! frame + expression", re-evaluated on every request. All handles are dropped when the
//! debuggee resumes, because frame indexes shift. Must not know: DAP messages.

use crate::legacy::messages::{FrameIndex, FrameKind, ThreadId};

/// A frame as a DAP `frameId` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRef {
    pub thread: ThreadId,
    pub index: FrameIndex,
    pub kind: FrameKind,
}

/// What a `variablesReference` expands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Container {
    /// The frame's variables from its frame list.
    Locals(FrameRef),
    /// `globals()` of the frame, expanded through the debuggee.
    Globals(FrameRef),
    /// The children of a Python expression evaluated in the frame.
    Expression {
        frame: FrameRef,
        expression: String,
        /// A `list`, `tuple` or `dict` whose children can be fetched a page at a time.
        indexed: Option<Indexed>,
    },
}

/// The children of a container that DAP's `start`/`count` can page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Indexed {
    /// A `list` or `tuple` of this length: child `[i]` is `expression[i]`, a page is a slice.
    Sequence(i64),
    /// A plain `dict` with this many entries: a page is entries `start..start+count` in
    /// the dict's own iteration order.
    Dict(i64),
}

impl Indexed {
    /// The type names ptvsd reports that can be paged: exactly `list`, `tuple`, `dict`
    /// (subclasses such as `OrderedDict` or `defaultdict` can carry attributes of their
    /// own, so they are expanded whole).
    pub fn of(type_name: &str, length: i64) -> Option<Indexed> {
        match type_name {
            _ if length <= 0 => None,
            "list" | "tuple" => Some(Indexed::Sequence(length)),
            "dict" => Some(Indexed::Dict(length)),
            _ => None,
        }
    }

    pub fn length(self) -> i64 {
        match self {
            Indexed::Sequence(length) | Indexed::Dict(length) => length,
        }
    }
}

/// Frame and variable handles for the current stop.
#[derive(Debug, Default)]
pub struct Handles {
    frames: Vec<FrameRef>,
    containers: Vec<Container>,
}

/// DAP handles start at 1 (0 means "none").
fn to_handle(index: usize) -> i64 {
    index as i64 + 1
}

fn from_handle(handle: i64) -> Option<usize> {
    usize::try_from(handle).ok()?.checked_sub(1)
}

impl Handles {
    pub fn frame_id(&mut self, frame: FrameRef) -> i64 {
        if let Some(i) = self.frames.iter().position(|f| *f == frame) {
            return to_handle(i);
        }
        self.frames.push(frame);
        to_handle(self.frames.len() - 1)
    }

    pub fn frame(&self, id: i64) -> Option<FrameRef> {
        from_handle(id).and_then(|i| self.frames.get(i)).copied()
    }

    pub fn container_id(&mut self, container: Container) -> i64 {
        if let Some(i) = self.containers.iter().position(|c| *c == container) {
            return to_handle(i);
        }
        self.containers.push(container);
        to_handle(self.containers.len() - 1)
    }

    pub fn container(&self, id: i64) -> Option<&Container> {
        from_handle(id).and_then(|i| self.containers.get(i))
    }

    /// The debuggee resumed: every handle is stale.
    pub fn clear(&mut self) {
        self.frames.clear();
        self.containers.clear();
    }
}
