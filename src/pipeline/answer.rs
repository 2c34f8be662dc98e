//! Answers to whoever submitted a transaction: the ingest connection it came on, or
//! the in-process submitter's channel.

use super::message::Origin;
use std::sync::mpsc::Sender;

/// One answer, before it is routed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub origin: Origin,
    pub code: u8,
    pub detail: Detail,
}

/// An answer's detail. Short ones (a block number, an empty one) are kept inline: every
/// included transaction gets one, and none of them allocates.
pub type Detail = smallvec::SmallVec<[u8; 16]>;

/// An answer to an in-process submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalAnswer {
    pub tag: u64,
    /// A status code (`message::code`); for `INCLUDED` the detail is the block number
    /// and the transaction's index in the block: `"BLOCK TRX"`.
    pub code: u8,
    pub detail: String,
}

/// Routes answers. Cloned into every stage that answers (verify workers for their
/// rejections, the output stage for everything else).
#[derive(Clone, Default)]
pub struct Answerer {
    ingest: Option<netio::Responder>,
    local: Option<Sender<LocalAnswer>>,
}

impl Answerer {
    pub fn new(ingest: Option<netio::Responder>, local: Option<Sender<LocalAnswer>>) -> Answerer {
        Answerer { ingest, local }
    }
    /// Sends and empties `answers`: one wake-up of each network thread per call. The
    /// connections' answers go to the network threads in one pass over the list; the
    /// in-process ones are sent on the way.
    pub fn send(&self, answers: &mut Vec<Answer>) {
        if answers.is_empty() {
            return;
        }
        let net = answers.drain(..).filter_map(|a| match a.origin {
            Origin::Ingest { conn, seq } => Some((conn, seq, a.code, a.detail)),
            Origin::Local { tag } => {
                if let Some(l) = &self.local {
                    // A submitter that went away does not want its answer.
                    let _ = l.send(LocalAnswer {
                        tag,
                        code: a.code,
                        detail: String::from_utf8_lossy(&a.detail).into_owned(),
                    });
                }
                None
            }
        });
        match &self.ingest {
            Some(r) => r.answer_many(net),
            None => net.for_each(drop),
        }
    }
}
