//! alexnet-tui: the notebook's AlexNet trained on Fashion-MNIST with Burn on libtorch, watched and
//! steered from the terminal.
//!
//! Follow one batch: [`data::fashion_mnist`] finds and verifies the bytes, [`data::batcher`] turns
//! them into a resized tensor, [`model`] runs the network, [`train::worker`] takes the SGD step and
//! sends a [`train::Event`], which [`tui`] draws or [`headless`] prints.

#![forbid(unsafe_code)]
#![warn(clippy::unwrap_used)]

pub mod bench;
pub mod cli;
pub mod config;
pub mod data;
pub mod headless;
pub mod inspect;
pub mod model;
pub mod plot;
pub mod precision;
pub mod predict;
pub mod session;
pub mod train;
pub mod tui;
pub mod watch;
