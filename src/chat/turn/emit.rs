//! A turn's frames: each goes to the asker's outbox and, through the hub, to the session's other watchers.

use uuid::Uuid;

use super::Turn;
use crate::avatar::CueMapping;
use crate::chat::cues::{Cue, CueAt, Piece};
use crate::chat::hub::{ChatHub, Outbox, Outgoing};
use crate::chat::views::ServerFrame;
use crate::platform::llm::chat::{ChatEvent, ChatStream};

pub(super) struct Emitter<'a> {
    pub hub: &'a ChatHub,
    pub outbox: &'a Outbox,
    pub turn: &'a Turn,
    /// The clips of the persona's avatar, by cue.
    pub clips: CueMapping,
    pub answer_id: Uuid,
    /// Every cue sent so far, stored with the answer.
    pub cues: Vec<CueAt>,
    /// The visible text sent so far.
    pub text: String,
}

impl Emitter<'_> {
    pub async fn emit(&self, frame: ServerFrame) {
        let out = Outgoing::new(&frame);
        self.outbox.push(out.clone());
        self.hub.publish(self.turn.session.id, self.turn.origin, &out).await;
    }

    pub async fn cue(&mut self, cue: Cue, at_char: usize) {
        self.cues.push(CueAt { cue, at_char });
        let clip = self.clips.clip(cue.as_str()).map(str::to_owned);
        self.emit(ServerFrame::AvatarCue { message_id: self.answer_id, cue, clip, at_char }).await;
    }

    /// Text as deltas (and kept), cues as cue frames, in order.
    pub async fn pieces(&mut self, pieces: Vec<Piece>) {
        for piece in pieces {
            match piece {
                Piece::Text(delta) => {
                    self.text.push_str(&delta);
                    self.emit(ServerFrame::AnswerDelta { message_id: self.answer_id, text: delta }).await;
                }
                Piece::Cue(at) => self.cue(at.cue, at.at_char).await,
            }
        }
    }
}

/// A fixed answer, streamed like a model's.
pub(super) fn canned(pieces: Vec<String>) -> ChatStream {
    let events = pieces.into_iter().map(|p| Ok(ChatEvent::Delta(p)));
    let done = std::iter::once(Ok(ChatEvent::Done { finish_reason: "stop".into() }));
    Box::pin(futures_util::stream::iter(events.chain(done)))
}
