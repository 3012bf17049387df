//! Questions grouped by meaning: where a class is stuck (what several students asked), the gaps (what the material
//! did not cover), and a student's topics. Each question is embedded once with the configured model, when it is
//! first grouped, and the vector kept; without a model, questions are compared by their words.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use super::AnalyticsService;
use crate::analytics::cluster;
use crate::analytics::entities::question;
use crate::analytics::error::AnalyticsError;
use crate::analytics::store::reads::{self, Range, Scope};
use crate::analytics::views::{Groups, Period, QuestionGroup, Topic};
use crate::auth::AuthUser;

const EXAMPLES: usize = 3;
const DOCUMENTS: usize = 5;
/// Slots of the hashed word vectors used without an embedding model.
const LEXICAL_DIMS: usize = 1024;
/// Questions embedded per call to the model.
const EMBED_BATCH: usize = 64;

impl AnalyticsService {
    /// What several students asked, grouped by meaning: the largest groups by students, then by questions.
    pub async fn stuck(&self, caller: &AuthUser, period: &Period) -> Result<Groups, AnalyticsError> {
        let scope = self.scope(caller, period.class_id).await?;
        let window = self.window(caller.org_id, period).await?;
        let groups = self.stuck_groups(&scope, &window.range).await?;
        Ok(Groups { from: window.from, to: window.to, groups })
    }

    /// The questions the material did not cover, grouped by meaning: what to upload next.
    pub async fn gaps(&self, caller: &AuthUser, period: &Period) -> Result<Groups, AnalyticsError> {
        let scope = self.scope(caller, period.class_id).await?;
        let window = self.window(caller.org_id, period).await?;
        let groups = self.gap_groups(&scope, &window.range).await?;
        Ok(Groups { from: window.from, to: window.to, groups })
    }

    pub(super) async fn stuck_groups(
        &self,
        scope: &Scope,
        range: &Range,
    ) -> Result<Vec<QuestionGroup>, AnalyticsError> {
        let limit = self.backends.config.analytics.max_grouped_questions as u64;
        let asked = reads::questions(&self.backends.db, scope, range, None, false, limit).await?;
        let mut groups: Vec<QuestionGroup> =
            self.group(asked).await?.into_iter().filter(|g| g.questions >= 2).collect();
        groups.sort_by(|a, b| b.students.cmp(&a.students).then(b.questions.cmp(&a.questions)));
        Ok(groups)
    }

    pub(super) async fn gap_groups(&self, scope: &Scope, range: &Range) -> Result<Vec<QuestionGroup>, AnalyticsError> {
        let limit = self.backends.config.analytics.max_grouped_questions as u64;
        let missed = reads::questions(&self.backends.db, scope, range, None, true, limit).await?;
        self.group(missed).await
    }

    /// A student's questions grouped: the label of each group and its size.
    pub(super) async fn topics(&self, scope: &Scope, range: &Range) -> Result<Vec<Topic>, AnalyticsError> {
        let limit = self.backends.config.analytics.max_grouped_questions as u64;
        let asked = reads::questions(&self.backends.db, scope, range, None, false, limit).await?;
        Ok(self
            .group(asked)
            .await?
            .into_iter()
            .take(10)
            .map(|g| Topic { label: g.label, questions: g.questions })
            .collect())
    }

    async fn group(&self, questions: Vec<question::Model>) -> Result<Vec<QuestionGroup>, AnalyticsError> {
        if questions.is_empty() {
            return Ok(Vec::new());
        }
        let settings = &self.backends.config.analytics;
        let (vectors, threshold) = match self.vectors(&questions).await? {
            Some(vectors) => (vectors, settings.group_similarity),
            None => (
                questions.iter().map(|q| cluster::lexical(&q.text, LEXICAL_DIMS)).collect(),
                settings.group_similarity_lexical,
            ),
        };
        let indices = tokio::task::spawn_blocking(move || cluster::group(&vectors, threshold))
            .await
            .map_err(anyhow::Error::from)?;
        let mut document_counts: Vec<HashMap<Uuid, i64>> = Vec::with_capacity(indices.len());
        let mut groups = Vec::with_capacity(indices.len());
        for members in &indices {
            let members: Vec<&question::Model> = members.iter().map(|i| &questions[*i]).collect();
            let students: HashSet<Uuid> = members.iter().map(|q| q.user_id).collect();
            let not_covered = members.iter().filter(|q| q.answered_by.as_deref() == Some("not_covered")).count();
            let answered =
                members.iter().filter(|q| matches!(q.answered_by.as_deref(), Some("model" | "extractive"))).count();
            let mut examples: Vec<String> = Vec::new();
            for q in &members {
                let text = q.text.trim();
                if examples.len() < EXAMPLES && !examples.iter().any(|e| e.eq_ignore_ascii_case(text)) {
                    examples.push(text.to_owned());
                }
            }
            let mut cited: HashMap<Uuid, i64> = HashMap::new();
            for q in &members {
                let ids: Vec<Uuid> =
                    q.documents.clone().and_then(|d| serde_json::from_value(d).ok()).unwrap_or_default();
                for id in ids {
                    *cited.entry(id).or_default() += 1;
                }
            }
            document_counts.push(cited);
            groups.push(QuestionGroup {
                label: members[0].text.trim().to_owned(),
                questions: members.len() as u64,
                students: students.len() as u64,
                answered: answered as u64,
                not_covered: not_covered as u64,
                examples,
                documents: Vec::new(),
            });
        }
        let org_id = questions[0].org_id;
        for (group, cited) in groups.iter_mut().zip(document_counts) {
            let mut cited: Vec<(Uuid, i64)> = cited.into_iter().collect();
            cited.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            cited.truncate(DOCUMENTS);
            group.documents = self.named_documents(org_id, cited).await?;
        }
        Ok(groups)
    }

    /// The questions' embeddings from the configured model, computing and storing the missing ones; `None`
    /// without a model (or when it fails: grouping by words is still useful).
    async fn vectors(&self, questions: &[question::Model]) -> Result<Option<Vec<Vec<f32>>>, AnalyticsError> {
        let Some(embedder) = self.backends.embeddings.clone() else { return Ok(None) };
        let model = embedder.name().to_owned();
        let mut vectors: Vec<Option<Vec<f32>>> = questions
            .iter()
            .map(|q| match (&q.embedding, &q.embedding_model) {
                (Some(bytes), Some(m)) if *m == model => Some(cluster::from_bytes(bytes)),
                _ => None,
            })
            .collect();
        let missing: Vec<usize> = (0..questions.len()).filter(|i| vectors[*i].is_none()).collect();
        for part in missing.chunks(EMBED_BATCH) {
            let texts: Vec<String> = part.iter().map(|i| questions[*i].text.chars().take(1000).collect()).collect();
            let embedded = match embedder.embed(&texts).await {
                Ok(embedded) => embedded,
                Err(err) => {
                    tracing::warn!(error = %err, "embedding questions for grouping failed; grouping by words");
                    return Ok(None);
                }
            };
            let rows: Vec<(Uuid, Vec<u8>)> =
                part.iter().zip(&embedded).map(|(i, v)| (questions[*i].id, cluster::to_bytes(v))).collect();
            reads::save_embeddings(&self.backends.db, &model, &rows).await?;
            for (i, v) in part.iter().zip(embedded) {
                vectors[*i] = Some(v);
            }
        }
        Ok(Some(vectors.into_iter().map(Option::unwrap_or_default).collect()))
    }
}
