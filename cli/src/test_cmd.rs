use agentauthz::testing::{self, TestReport};
use agentauthz::{Error, ErrorCode, Result};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Bundle directory.
    #[arg(long)]
    bundle: PathBuf,
    /// Test files to run (default: the bundle's tests/*.yaml, *.yml, *.json).
    files: Vec<PathBuf>,
    /// Also write a JUnit XML report to this file.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// List the policies that no test made a determining reason.
    #[arg(long)]
    coverage: bool,
}

pub fn run(args: Args) -> Result<u8> {
    let report = testing::run(&args.bundle, &args.files)?;
    for file in &report.files {
        for case in &file.cases {
            match &case.message {
                None => println!("PASS  {}: {}", file.file, case.name),
                Some(m) => println!("FAIL  {}: {}\n      {m}", file.file, case.name),
            }
        }
    }
    println!(
        "{} passed, {} failed ({} files) in {}",
        report.total() - report.failed(),
        report.failed(),
        report.files.len(),
        args.bundle.display()
    );
    if args.coverage {
        let c = &report.coverage;
        println!(
            "coverage: {}/{} policies determined a decision",
            c.covered, c.policies
        );
        for id in &c.uncovered {
            println!("  not covered: {id}");
        }
    }
    if let Some(path) = &args.junit {
        write_junit(&report, path)?;
    }
    Ok(if report.passed() { 0 } else { 1 })
}

fn write_junit(report: &TestReport, path: &PathBuf) -> Result<()> {
    let mut junit = Report::new("agentauthz");
    for file in &report.files {
        let mut suite = TestSuite::new(file.file.as_str());
        for case in &file.cases {
            let status = match &case.message {
                None => TestCaseStatus::success(),
                Some(m) => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(m.as_str());
                    s
                }
            };
            suite.add_test_case(TestCase::new(case.name.as_str(), status));
        }
        junit.add_test_suite(suite);
    }
    let xml = junit
        .to_string()
        .map_err(|e| Error::new(ErrorCode::Internal, format!("junit: {e}")))?;
    std::fs::write(path, xml).map_err(|e| {
        Error::new(
            ErrorCode::Io,
            format!("cannot write {}: {e}", path.display()),
        )
    })
}
