//! zdm-backupd: a backup appliance daemon speaking the ZDM backup API.
//!
//! Layers, each pointing one way: `api` (HTTP, auth, envelope) -> `read_model`, `runner`,
//! `repocheck` -> `db` (SQLite), `engine` (restore points) -> `domain` (pure rules). `server`
//! wires them together at start-up. `docs/ARCHITECTURE.md` has the picture and where new work goes.

pub mod api;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod download_links;
pub mod engine;
pub mod error_chain;
pub mod host;
pub mod http_counters;
pub mod login_guard;
pub mod ops;
pub mod read_model;
pub mod repocheck;
pub mod restore_target;
pub mod runner;
pub mod server;
pub mod state;
pub mod web;
