//! Library target of the eBPF crate. It exists so `rsdr-user` can declare a
//! build dependency on this crate (and be rebuilt when it changes); the
//! programs themselves are in the `rsdr` binary target (`src/main.rs`).
#![no_std]
