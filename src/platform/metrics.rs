//! Prometheus metrics. Each `Application` owns its registry (no global), so test apps in one process never
//! mix their numbers.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub http_in_flight: IntGauge,
    pub jobs_depth: IntGaugeVec,
    pub job_outcomes: IntCounterVec,
    /// Records that must exist but could not be written (an audit entry after its action happened): each is also
    /// logged as an error with its request id; an operator alerts on this.
    pub records_lost: IntCounterVec,
    /// Pub/sub topics this process holds a channel for (in-process pub/sub only).
    pub pubsub_topics: IntGauge,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("bwenge".into()), None)?;
        let http_requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by method, route pattern and status"),
            &["method", "route", "status"],
        )?;
        let http_duration = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency by route pattern")
                .buckets(vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
            &["method", "route"],
        )?;
        let http_in_flight = IntGauge::new("http_requests_in_flight", "HTTP requests being served")?;
        let jobs_depth = IntGaugeVec::new(Opts::new("jobs", "Background jobs by status"), &["status"])?;
        let job_outcomes = IntCounterVec::new(
            Opts::new("job_runs_total", "Background job runs by kind and outcome"),
            &["kind", "outcome"],
        )?;
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_duration.clone()))?;
        registry.register(Box::new(http_in_flight.clone()))?;
        registry.register(Box::new(jobs_depth.clone()))?;
        let records_lost = IntCounterVec::new(
            Opts::new("records_lost_total", "Records that could not be written, by kind"),
            &["kind"],
        )?;
        registry.register(Box::new(job_outcomes.clone()))?;
        let pubsub_topics = IntGauge::new("pubsub_topics", "Pub/sub topics with a channel in this process")?;
        registry.register(Box::new(records_lost.clone()))?;
        registry.register(Box::new(pubsub_topics.clone()))?;
        Ok(Self {
            registry,
            http_requests,
            http_duration,
            http_in_flight,
            jobs_depth,
            job_outcomes,
            records_lost,
            pubsub_topics,
        })
    }

    /// The Prometheus text exposition of everything registered.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut buffer = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buffer)?;
        String::from_utf8(buffer).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}
