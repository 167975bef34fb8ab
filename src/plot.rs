//! `alexnet-tui plot runs/<run-id>`: a run's loss and accuracy curves as a PNG, drawn from its
//! `metrics.csv`, for those who would rather look than read.
//!
//! Left, the loss: every logged batch's training loss (faint), and the per-epoch mean training
//! loss and test loss. Right, the accuracy: every logged batch's (faint), and the per-epoch
//! training and test accuracy. Both share an x axis in epochs. Text is set in DejaVu Sans, built
//! into the program (assets/fonts), so no system font is needed. The file is drawn in memory and
//! written to a temporary name, then renamed: a failure leaves no partial PNG behind.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};
use thiserror::Error;

use crate::cli::PlotArgs;
use crate::session::Error;

/// The file a finished run's curves are written to, next to its metrics.csv.
pub const CURVES_FILE: &str = "curves.png";
/// Width and height of the picture, in pixels.
pub const PLOT_SIZE: (u32, u32) = (1200, 500);

const FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";
const TRAIN: RGBColor = RGBColor(31, 119, 180);
const TEST: RGBColor = RGBColor(230, 110, 0);

#[derive(Debug, Error)]
pub enum PlotError {
    #[error("{0}: no metrics.csv there; plot takes a run folder (runs/<run-id>) or a metrics.csv")]
    NoMetrics(PathBuf),
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{0}: no batch, test or epoch rows yet, nothing to plot")]
    Empty(PathBuf),
    #[error("cannot draw the curves: {0}")]
    Draw(String),
    #[error("{path}: cannot write: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One `batch` row of metrics.csv (epoch and batch counted from 1, as in the file).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchRow {
    pub epoch: usize,
    pub batch: usize,
    pub step: u64,
    pub loss: f64,
    pub accuracy: f64,
}

/// One `epoch` row of metrics.csv (epoch counted from 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochRow {
    pub epoch: usize,
    pub train_loss: f64,
    pub train_accuracy: f64,
    /// The test at the epoch end, `None` for an epoch not tested (before `training.eval_from`).
    pub test: Option<TestRow>,
}

/// (x, y) points of one line.
pub type Curve = Vec<(f64, f64)>;

/// One `test` row of metrics.csv: a test inside an epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestRow {
    /// Position on the epoch axis (1.6: 60% through the second epoch).
    pub position: f64,
    pub test_loss: f64,
    pub test_accuracy: f64,
}

/// What metrics.csv holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    pub batches: Vec<BatchRow>,
    pub epochs: Vec<EpochRow>,
    pub tests: Vec<TestRow>,
}

impl Metrics {
    /// Parses metrics.csv as `History::write_csv` writes it; columns are found by their names.
    pub fn parse(text: &str, path: &Path) -> Result<Metrics, PlotError> {
        let error = |line: usize, message: String| PlotError::Parse {
            path: path.to_path_buf(),
            line,
            message,
        };
        let mut lines = text.lines().enumerate();
        let header: Vec<&str> = match lines.next() {
            Some((_, header)) => header.split(',').map(str::trim).collect(),
            None => return Err(PlotError::Empty(path.to_path_buf())),
        };
        let column = |name: &str| {
            header
                .iter()
                .position(|h| *h == name)
                .ok_or_else(|| error(1, format!("not a metrics.csv: no \"{name}\" column")))
        };
        let kind = column("kind")?;
        let epoch = column("epoch")?;
        let batch = column("batch")?;
        let step = column("step")?;
        let loss = column("loss")?;
        let accuracy = column("accuracy")?;
        let test_loss = column("test_loss")?;
        let test_accuracy = column("test_accuracy")?;
        let mut metrics = Metrics::default();
        for (index, line) in lines {
            let number = index + 1;
            if line.trim().is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            if fields.len() != header.len() {
                return Err(error(
                    number,
                    format!("{} fields, the header has {}", fields.len(), header.len()),
                ));
            }
            fn parse<T: std::str::FromStr>(
                fields: &[&str],
                at: usize,
                name: &str,
            ) -> Result<T, String> {
                fields[at]
                    .parse()
                    .map_err(|_| format!("{name} \"{}\" is not a number", fields[at]))
            }
            let row = (|| match fields[kind] {
                "batch" => {
                    metrics.batches.push(BatchRow {
                        epoch: parse(&fields, epoch, "epoch")?,
                        batch: parse(&fields, batch, "batch")?,
                        step: parse(&fields, step, "step")?,
                        loss: parse(&fields, loss, "loss")?,
                        accuracy: parse(&fields, accuracy, "accuracy")?,
                    });
                    Ok(())
                }
                "epoch" => {
                    let epoch: usize = parse(&fields, epoch, "epoch")?;
                    let tested =
                        !(fields[test_loss].is_empty() && fields[test_accuracy].is_empty());
                    let test = if tested {
                        Some(TestRow {
                            position: epoch as f64,
                            test_loss: parse(&fields, test_loss, "test_loss")?,
                            test_accuracy: parse(&fields, test_accuracy, "test_accuracy")?,
                        })
                    } else {
                        None
                    };
                    metrics.epochs.push(EpochRow {
                        epoch,
                        train_loss: parse(&fields, loss, "loss")?,
                        train_accuracy: parse(&fields, accuracy, "accuracy")?,
                        test,
                    });
                    Ok(())
                }
                "test" => {
                    metrics.tests.push(TestRow {
                        position: parse(&fields, epoch, "epoch")?,
                        test_loss: parse(&fields, test_loss, "test_loss")?,
                        test_accuracy: parse(&fields, test_accuracy, "test_accuracy")?,
                    });
                    Ok(())
                }
                other => Err(format!("unknown row kind \"{other}\"")),
            })();
            row.map_err(|message| error(number, message))?;
        }
        if metrics.batches.is_empty() && metrics.epochs.is_empty() && metrics.tests.is_empty() {
            return Err(PlotError::Empty(path.to_path_buf()));
        }
        Ok(metrics)
    }

    pub fn read(path: &Path) -> Result<Metrics, PlotError> {
        let text = fs::read_to_string(path).map_err(|source| PlotError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Metrics::parse(&text, path)
    }

    /// Test loss and accuracy on the epoch axis, epoch ends and tests inside epochs in order.
    pub fn test_curves(&self) -> (Curve, Curve) {
        let mut tests: Vec<TestRow> = self
            .epochs
            .iter()
            .filter_map(|e| e.test)
            .chain(self.tests.iter().copied())
            .collect();
        tests.sort_by(|a, b| a.position.total_cmp(&b.position));
        tests
            .iter()
            .map(|t| ((t.position, t.test_loss), (t.position, t.test_accuracy)))
            .unzip()
    }

    /// Batches per epoch. metrics.csv does not say, but every batch row has `step` (from 0) and
    /// `batch` (from 1), so `step - (batch - 1)` is the number of steps before its epoch: exact
    /// from any row past the first epoch. A run still in its first epoch is measured by its last
    /// logged batch.
    pub fn batches_per_epoch(&self) -> usize {
        self.batches
            .iter()
            .find(|row| row.epoch >= 2)
            .map(|row| (row.step + 1).saturating_sub(row.batch as u64) as usize / (row.epoch - 1))
            .filter(|&count| count > 0)
            .or_else(|| self.batches.iter().map(|row| row.batch).max())
            .unwrap_or(1)
    }

    /// Where each batch row sits on the epoch axis: 1.5 is halfway through the second epoch.
    pub fn batch_positions(&self) -> Vec<f64> {
        let per_epoch = self.batches_per_epoch().max(1) as f64;
        self.batches
            .iter()
            .map(|row| (row.epoch - 1) as f64 + row.batch as f64 / per_epoch)
            .collect()
    }
}

fn register_the_font() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err(PlotError::Draw("the built-in font cannot be read".into()))
    }
}

fn draw_error(error: impl std::fmt::Display) -> PlotError {
    PlotError::Draw(error.to_string())
}

/// Draws the curves into an RGB buffer of [`PLOT_SIZE`].
pub fn render(metrics: &Metrics, title: &str) -> Result<Vec<u8>, PlotError> {
    register_the_font()?;
    let (width, height) = PLOT_SIZE;
    let mut buffer = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, PLOT_SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let root = root
            .titled(title, (FAMILY, 22).into_font())
            .map_err(draw_error)?;
        let panels = root.split_evenly((1, 2));
        let positions = metrics.batch_positions();
        let last_epoch = metrics.epochs.iter().map(|e| e.epoch).max().unwrap_or(0) as f64;
        let x_end = positions
            .iter()
            .copied()
            .fold(last_epoch, f64::max)
            .max(1.0);
        let batch_losses: Vec<(f64, f64)> = positions
            .iter()
            .zip(&metrics.batches)
            .map(|(x, row)| (*x, row.loss))
            .collect();
        let batch_accuracies: Vec<(f64, f64)> = positions
            .iter()
            .zip(&metrics.batches)
            .map(|(x, row)| (*x, row.accuracy))
            .collect();
        let per_epoch = |f: fn(&EpochRow) -> f64| -> Vec<(f64, f64)> {
            metrics
                .epochs
                .iter()
                .map(|row| (row.epoch as f64, f(row)))
                .collect()
        };
        let (test_losses, test_accuracies) = metrics.test_curves();
        let loss_top = batch_losses
            .iter()
            .chain(&test_losses)
            .map(|p| p.1)
            .chain(metrics.epochs.iter().map(|e| e.train_loss))
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max)
            .max(0.1)
            * 1.05;
        draw_panel(
            &panels[0],
            "Loss",
            "loss",
            (x_end, 0.0, loss_top),
            // Losses fall from the top left: the top right stays clear.
            SeriesLabelPosition::UpperRight,
            &[
                Series::faint("train, per batch", batch_losses, TRAIN),
                Series::line("train, epoch mean", per_epoch(|e| e.train_loss), TRAIN),
                Series::line("test", test_losses, TEST),
            ],
        )?;
        let accuracy_bottom = batch_accuracies
            .iter()
            .chain(&test_accuracies)
            .map(|p| p.1)
            .chain(metrics.epochs.iter().map(|e| e.train_accuracy))
            .filter(|v| v.is_finite())
            .fold(1.0, f64::min);
        let accuracy_bottom = ((accuracy_bottom * 10.0).floor() / 10.0).clamp(0.0, 0.9);
        draw_panel(
            &panels[1],
            "Accuracy",
            "accuracy",
            (x_end, accuracy_bottom, 1.0),
            // Accuracies rise to the top right: the bottom right stays clear.
            SeriesLabelPosition::LowerRight,
            &[
                Series::faint("train, per batch", batch_accuracies, TRAIN),
                Series::line("train, per epoch", per_epoch(|e| e.train_accuracy), TRAIN),
                Series::line("test", test_accuracies, TEST),
            ],
        )?;
        root.present().map_err(draw_error)?;
    }
    Ok(buffer)
}

struct Series {
    label: &'static str,
    points: Vec<(f64, f64)>,
    color: RGBColor,
    faint: bool,
}

impl Series {
    fn faint(label: &'static str, points: Vec<(f64, f64)>, color: RGBColor) -> Series {
        Series {
            label,
            points,
            color,
            faint: true,
        }
    }

    fn line(label: &'static str, points: Vec<(f64, f64)>, color: RGBColor) -> Series {
        Series {
            label,
            points,
            color,
            faint: false,
        }
    }
}

fn draw_panel(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    caption: &str,
    y_label: &str,
    (x_end, y_start, y_end): (f64, f64, f64),
    legend: SeriesLabelPosition,
    series: &[Series],
) -> Result<(), PlotError> {
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FAMILY, 18).into_font())
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..x_end, y_start..y_end)
        .map_err(draw_error)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(y_label)
        .label_style((FAMILY, 13).into_font())
        .axis_desc_style((FAMILY, 14).into_font())
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(draw_error)?;
    for one in series.iter().filter(|s| !s.points.is_empty()) {
        let color = one.color;
        let style = if one.faint {
            color.mix(0.3).stroke_width(1)
        } else {
            color.stroke_width(2)
        };
        chart
            .draw_series(LineSeries::new(one.points.iter().copied(), style))
            .map_err(draw_error)?
            .label(one.label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        if !one.faint {
            // Markers, so that a single finished epoch shows too.
            chart
                .draw_series(
                    one.points
                        .iter()
                        .map(|&point| Circle::new(point, 4, color.filled())),
                )
                .map_err(draw_error)?;
        }
    }
    chart
        .configure_series_labels()
        .position(legend)
        .label_font((FAMILY, 13).into_font())
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .draw()
        .map_err(draw_error)?;
    Ok(())
}

/// Encodes an RGB buffer of [`PLOT_SIZE`] as PNG and writes it to `out` through a temporary file
/// in the same folder, so that a failure leaves neither a partial PNG nor the temporary file.
pub fn write_png(out: &Path, rgb: Vec<u8>) -> Result<(), PlotError> {
    let (width, height) = PLOT_SIZE;
    let image = image::RgbImage::from_raw(width, height, rgb)
        .ok_or_else(|| PlotError::Draw("the picture buffer has the wrong size".into()))?;
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .map_err(draw_error)?;
    let mut tmp_name = out.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = out.with_file_name(tmp_name);
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, out)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(|source| PlotError::Write {
        path: out.to_path_buf(),
        source,
    })
}

/// Draws `metrics` (a metrics.csv) into the PNG `out`; the title names the run folder.
pub fn plot_metrics(metrics_path: &Path, out: &Path) -> Result<(), PlotError> {
    let metrics = Metrics::read(metrics_path)?;
    let run = metrics_path
        .parent()
        .and_then(Path::file_name)
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let title = if run.is_empty() {
        "alexnet-tui".to_string()
    } else {
        format!("alexnet-tui run {run}")
    };
    write_png(out, render(&metrics, &title)?)
}

/// Writes `curves.png` next to a run's metrics.csv and returns its path. Called when a run ends,
/// by the dashboard and the headless runner.
pub fn write_run_plot(run_dir: &Path) -> Result<PathBuf, PlotError> {
    let metrics = run_dir.join("metrics.csv");
    if !metrics.is_file() {
        return Err(PlotError::NoMetrics(run_dir.to_path_buf()));
    }
    let out = run_dir.join(CURVES_FILE);
    plot_metrics(&metrics, &out)?;
    Ok(out)
}

/// `alexnet-tui plot runs/<run-id> [--out FILE]`.
pub fn run(args: &PlotArgs) -> Result<ExitCode, Error> {
    let metrics = if args.run.is_dir() {
        args.run.join("metrics.csv")
    } else {
        args.run.clone()
    };
    if !metrics.is_file() {
        return Err(Error::Failed(
            PlotError::NoMetrics(args.run.clone()).to_string(),
        ));
    }
    let out = args.out.clone().unwrap_or_else(|| {
        metrics
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join(CURVES_FILE)
    });
    plot_metrics(&metrics, &out).map_err(|error| Error::Failed(error.to_string()))?;
    println!("wrote {}", out.display());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "kind,epoch,batch,step,loss,accuracy,test_loss,test_accuracy,learning_rate,images_per_second,elapsed_seconds
batch,1,10,9,2.100000,0.200000,,,0.010000,100.00,0.10
batch,1,20,19,1.500000,0.400000,,,0.010000,100.00,0.10
test,0.8000,,20,,,1.300000,0.500000,,,1.60
epoch,1,,,1.700000,0.350000,1.200000,0.550000,,100.00,2.00
batch,2,5,29,1.000000,0.600000,,,0.010000,100.00,0.10
";

    #[test]
    fn parses_rows_and_places_batches_in_epochs() {
        let metrics = Metrics::parse(CSV, Path::new("m.csv")).expect("valid");
        assert_eq!(metrics.batches.len(), 3);
        assert_eq!(metrics.epochs.len(), 1);
        assert_eq!(metrics.epochs[0].test.map(|t| t.test_accuracy), Some(0.55));
        // Step 29 is batch 5 of epoch 2: 25 steps before it, so 25 batches per epoch.
        assert_eq!(metrics.batches_per_epoch(), 25);
        assert_eq!(metrics.batch_positions(), vec![0.4, 0.8, 1.2]);
        // The test inside the first epoch comes before the one at its end.
        let (losses, accuracies) = metrics.test_curves();
        assert_eq!(losses, vec![(0.8, 1.3), (1.0, 1.2)]);
        assert_eq!(accuracies, vec![(0.8, 0.5), (1.0, 0.55)]);
    }

    #[test]
    fn an_untested_epoch_end_adds_no_test_point() {
        let text = CSV.replace(
            "epoch,1,,,1.700000,0.350000,1.200000,0.550000,,100.00,2.00",
            "epoch,1,,,1.700000,0.350000,,,,100.00,2.00",
        );
        let metrics = Metrics::parse(&text, Path::new("m.csv")).expect("valid");
        assert_eq!(metrics.epochs.len(), 1);
        assert_eq!(metrics.epochs[0].test, None);
        assert_eq!(metrics.epochs[0].train_accuracy, 0.35);
        let (losses, accuracies) = metrics.test_curves();
        assert_eq!(losses, vec![(0.8, 1.3)]);
        assert_eq!(accuracies, vec![(0.8, 0.5)]);
    }

    #[test]
    fn a_run_in_its_first_epoch_is_measured_by_its_last_batch() {
        let text: String = CSV.lines().take(3).map(|l| format!("{l}\n")).collect();
        let metrics = Metrics::parse(&text, Path::new("m.csv")).expect("valid");
        assert_eq!(metrics.batches_per_epoch(), 20);
    }

    #[test]
    fn bad_files_are_named_with_the_line() {
        let broken = CSV.replace("1.500000", "one and a half");
        let message = Metrics::parse(&broken, Path::new("m.csv"))
            .expect_err("broken")
            .to_string();
        assert_eq!(message, "m.csv:3: loss \"one and a half\" is not a number");
        let message = Metrics::parse("a,b\n1,2\n", Path::new("x.csv"))
            .expect_err("foreign")
            .to_string();
        assert!(message.contains("no \"kind\" column"), "{message}");
        let header_only = CSV.lines().next().unwrap_or_default();
        assert!(matches!(
            Metrics::parse(header_only, Path::new("m.csv")),
            Err(PlotError::Empty(_))
        ));
    }
}
