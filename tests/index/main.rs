//! The index: every `DescribeImageCaches` rule as a table run against the
//! index and the naive oracle, and property tests that the two agree on
//! every page, every ranking and every best match, under churn.

mod describe_rules;
mod vs_oracle;
