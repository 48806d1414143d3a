//! The embedded Genesys Cloud emulator (being written).
