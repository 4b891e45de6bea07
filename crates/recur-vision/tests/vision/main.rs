//! recur-vision's tests: one binary, every test on each backend of
//! `Backend::for_tests()`.

mod efficientnet;
mod preprocess;
