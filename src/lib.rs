//! alexnet-tui: the notebook's AlexNet trained on Fashion-MNIST with Burn on libtorch, watched and
//! steered from the terminal.
//!
//! Follow one batch: [`data::fashion_mnist`] finds and verifies the bytes, [`data::batcher`] turns
//! them into a resized tensor, [`model`] runs the network, [`train::worker`] takes the SGD step and
//! sends a [`train::Event`]; [`control`] steers the run and [`report`] puts the event in words,
//! which [`tui`] draws or [`headless`] prints.
//!
//! The layers, lowest first (`tests/layers.rs` checks that no module refers to one above it):
//! - core: [`config`], [`data`], [`model`], [`precision`], [`train`], [`process`], [`files`],
//!   [`units`] (durations, sizes and speeds in words, one way everywhere)
//! - shared by the front ends and commands: [`session`], [`watch`], [`report`], [`control`],
//!   [`curves`], [`runs`], [`interrupts`] (the async runtime and the signals that end a run),
//!   [`rate_pick`] (a range test's pick written into config.toml)
//! - front ends: [`tui`], [`headless`]; commands: [`bench`], [`inspect`], [`predict`], [`plot`],
//!   [`catalog`], [`lr_find`] (none of these refers to another)
//! - [`cli`], and `main.rs` on top.
//!
//! Lints are set for every target in Cargo.toml's `[lints]`.

// core
pub mod config;
pub mod data;
pub mod files;
pub mod model;
pub mod precision;
pub mod process;
pub mod train;
pub mod units;

// shared
pub mod control;
pub mod curves;
pub mod interrupts;
pub mod rate_pick;
pub mod report;
pub mod runs;
pub mod session;
pub mod watch;

// front ends
pub mod headless;
pub mod tui;

// commands
pub mod bench;
pub mod catalog;
pub mod inspect;
pub mod lr_find;
pub mod plot;
pub mod predict;

pub mod cli;
