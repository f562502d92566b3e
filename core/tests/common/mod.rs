//! The storage bundle the run-time change tests share (lifecycle, state):
//! buckets and objects, a public read permit and a forbid on big uploads.
//! Each test file brings its own inventory.

pub const SCHEMA: &str = r#"
entity Bucket;
entity Object in [Bucket];
action "s3:GetObject" appliesTo { principal: [Agent], resource: [Object, Bucket] };
action "s3:PutObject" appliesTo {
  principal: [Agent], resource: [Object, Bucket],
  context: { bytes?: Long }
};
"#;

pub const POLICIES: &str = r#"
@id("read-public")
permit (principal, action == Action::"s3:GetObject", resource in Bucket::"public");

@id("no-big-uploads")
forbid (principal, action == Action::"s3:PutObject", resource)
when { context has bytes && context.bytes > 1000 };
"#;
