//! Group commit for intake. Concurrent webhook requests hand their reports to a worker, which
//! commits whatever has queued up in one transaction and then answers each request. Every
//! accepted report is committed before its response, yet a burst costs one commit, not hundreds.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tracing::{error, warn};

use super::classify::Report;
use super::incidents::{IncidentService, IngestOutcome};
use crate::store::StoreError;

/// Why a submission was not taken; the caller answers 503 so that the sender retries.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IntakeError {
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("the report could not be stored: {0}")]
    Failed(String),
    #[error("zhiban is shutting down")]
    ShuttingDown,
}

impl From<&StoreError> for IntakeError {
    fn from(e: &StoreError) -> Self {
        if e.is_unavailable() {
            IntakeError::Unavailable(e.to_string())
        } else {
            IntakeError::Failed(e.to_string())
        }
    }
}

struct Job {
    reports: Vec<Report>,
    reply: oneshot::Sender<Result<Vec<IngestOutcome>, IntakeError>>,
}

/// The handle requests use. Cloning is cheap; when every handle is gone the workers finish the
/// queued jobs and stop.
#[derive(Clone)]
pub struct IntakeQueue {
    jobs: mpsc::Sender<Job>,
}

impl IntakeQueue {
    /// Start `workers` group-commit workers over a queue of `capacity` requests.
    pub fn start(
        service: Arc<IncidentService>,
        max_batch: usize,
        workers: usize,
        capacity: usize,
    ) -> (IntakeQueue, Vec<tokio::task::JoinHandle<()>>) {
        let (tx, rx) = mpsc::channel::<Job>(capacity.max(1));
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let handles = (0..workers.max(1))
            .map(|_| tokio::spawn(worker(service.clone(), rx.clone(), max_batch.max(1))))
            .collect();
        (IntakeQueue { jobs: tx }, handles)
    }

    /// Submit reports; resolves once they are committed (or definitely not).
    pub async fn submit(&self, reports: Vec<Report>) -> Result<Vec<IngestOutcome>, IntakeError> {
        if reports.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job { reports, reply }).await.map_err(|_| IntakeError::ShuttingDown)?;
        answer.await.unwrap_or(Err(IntakeError::ShuttingDown))
    }
}

async fn worker(
    service: Arc<IncidentService>,
    rx: Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>,
    max_batch: usize,
) {
    loop {
        let jobs = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else { return };
            let mut size = first.reports.len();
            let mut jobs = vec![first];
            while size < max_batch {
                match rx.try_recv() {
                    Ok(job) => {
                        size += job.reports.len();
                        jobs.push(job);
                    }
                    Err(_) => break,
                }
            }
            jobs
        };
        commit_jobs(&service, jobs).await;
    }
}

async fn commit_jobs(service: &IncidentService, jobs: Vec<Job>) {
    let all: Vec<Report> = jobs.iter().flat_map(|j| j.reports.iter().cloned()).collect();
    match service.ingest(&all).await {
        Ok(mut outcomes) => {
            for job in jobs.into_iter().rev() {
                let mine = outcomes.split_off(outcomes.len() - job.reports.len());
                let _ = job.reply.send(Ok(mine));
            }
        }
        Err(e) if jobs.len() > 1 && !e.is_unavailable() => {
            // One bad report must not fail its neighbours: retry each request on its own.
            warn!("intake batch of {} requests failed ({e}); retrying them one by one", jobs.len());
            for job in jobs {
                let result = service.ingest(&job.reports).await.map_err(|e| {
                    error!("intake failed: {e}");
                    IntakeError::from(&e)
                });
                let _ = job.reply.send(result);
            }
        }
        Err(e) => {
            error!("intake failed: {e}");
            let err = IntakeError::from(&e);
            for job in jobs {
                let _ = job.reply.send(Err(err.clone()));
            }
        }
    }
}
