//! `date_trunc`, computed once per run of equal values.
//!
//! Reports and compliance queries bucket by `date_trunc(unit, date)`, and
//! `date` is a partition column: every row of a file has the same value, so
//! a batch holds one value, or a few. DataFusion's `date_trunc` works out
//! each row on its own (by calendar arithmetic for weeks, months and
//! years), which was a fifth of the CPU of an all-time monthly group-by.
//! This wrapper finds the runs of equal values in the input (a vectorized
//! comparison of neighbours), lets the built-in function truncate one value
//! per run and spreads the answers back over the rows. Inputs with many
//! distinct values (an `occurred_at` column) go to the built-in function
//! unchanged. Everything else (signature, return type, ordering, aliases)
//! is the built-in function's, so plans and answers are the same.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, UInt32Array};
use arrow::compute::kernels::partition::partition;
use arrow::compute::take;
use arrow::datatypes::{DataType, FieldRef};
use datafusion::common::Result;
use datafusion::functions::datetime::date_trunc;
use datafusion::logical_expr::sort_properties::{ExprProperties, SortProperties};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature,
};

/// Runs are worth finding only when there are few: with more than one run
/// per this many rows, the built-in function does the whole input.
const ROWS_PER_RUN: usize = 4;

/// The `date_trunc` function (and its alias `datetrunc`) to register in a
/// session in place of the built-in one.
pub fn udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(RunDateTrunc {
        inner: date_trunc().as_ref().clone(),
    })
}

/// The built-in `date_trunc`, applied per run of equal values.
#[derive(Debug, PartialEq, Eq, Hash)]
struct RunDateTrunc {
    inner: ScalarUDF,
}

impl ScalarUDFImpl for RunDateTrunc {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        self.inner.return_field_from_args(args)
    }

    fn output_ordering(&self, inputs: &[ExprProperties]) -> Result<SortProperties> {
        self.inner.output_ordering(inputs)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let values = match args.args.as_slice() {
            [ColumnarValue::Scalar(_), ColumnarValue::Array(values)] => Arc::clone(values),
            _ => return self.inner.invoke_with_args(args),
        };
        let runs = partition(&[Arc::clone(&values)])?.ranges();
        if runs.len() * ROWS_PER_RUN > values.len() {
            return self.inner.invoke_with_args(args);
        }
        let firsts: UInt32Array = runs.iter().map(|run| run.start as u32).collect();
        let mut per_run = args;
        per_run.args[1] = ColumnarValue::Array(take(&values, &firsts, None)?);
        per_run.number_rows = runs.len();
        let truncated: ArrayRef = match self.inner.invoke_with_args(per_run)? {
            ColumnarValue::Array(array) => array,
            ColumnarValue::Scalar(value) => value.to_array_of_size(runs.len())?,
        };
        let run_of_row: UInt32Array = runs
            .iter()
            .enumerate()
            .flat_map(|(index, run)| std::iter::repeat_n(index as u32, run.len()))
            .collect();
        Ok(ColumnarValue::Array(take(&truncated, &run_of_row, None)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{TimestampMicrosecondArray, TimestampNanosecondArray};
    use arrow::datatypes::Field;
    use datafusion::common::ScalarValue;
    use datafusion::config::ConfigOptions;
    use proptest::prelude::*;

    /// `function` applied to `values`, with the return field DataFusion
    /// would plan.
    fn call(function: &ScalarUDF, unit: &str, values: ArrayRef) -> ArrayRef {
        let arg_fields: Vec<FieldRef> = vec![
            Arc::new(Field::new("unit", DataType::Utf8, false)),
            Arc::new(Field::new("value", values.data_type().clone(), true)),
        ];
        let unit = ScalarValue::Utf8(Some(unit.to_string()));
        let return_field = function
            .return_field_from_args(ReturnFieldArgs {
                arg_fields: &arg_fields,
                scalar_arguments: &[Some(&unit), None],
            })
            .unwrap();
        let args = ScalarFunctionArgs {
            args: vec![
                ColumnarValue::Scalar(unit),
                ColumnarValue::Array(Arc::clone(&values)),
            ],
            arg_fields,
            number_rows: values.len(),
            return_field,
            config_options: Arc::new(ConfigOptions::default()),
        };
        match function.invoke_with_args(args).unwrap() {
            ColumnarValue::Array(array) => array,
            ColumnarValue::Scalar(value) => value.to_array_of_size(values.len()).unwrap(),
        }
    }

    fn assert_same(unit: &str, values: ArrayRef) {
        let builtin = date_trunc().as_ref().clone();
        assert_eq!(
            call(&udf(), unit, Arc::clone(&values)).as_ref(),
            call(&builtin, unit, values).as_ref(),
            "unit {unit}"
        );
    }

    #[test]
    fn runs_of_dates_truncate_as_the_builtin_does() {
        let days: Vec<Option<i64>> = [20_000, 20_031, 20_400, 20_000]
            .into_iter()
            .flat_map(|day: i64| std::iter::repeat_n(Some(day * 86_400_000_000_000), 150))
            .chain([None, None, Some(-86_400_000_000_000)])
            .collect();
        let values: ArrayRef = Arc::new(TimestampNanosecondArray::from(days));
        for unit in ["day", "week", "month", "quarter", "year"] {
            assert_same(unit, Arc::clone(&values));
        }
    }

    #[test]
    fn distinct_values_and_time_zones_are_left_to_the_builtin() {
        let micros: ArrayRef = Arc::new(
            TimestampMicrosecondArray::from_iter_values((0..500).map(|i| i * 7_919_000_003))
                .with_timezone("Europe/Berlin"),
        );
        let repeated: ArrayRef = Arc::new(
            TimestampMicrosecondArray::from(vec![Some(1_700_000_000_000_000); 64])
                .with_timezone("Asia/Kolkata"),
        );
        for unit in ["hour", "day", "month"] {
            assert_same(unit, Arc::clone(&micros));
            assert_same(unit, Arc::clone(&repeated));
        }
    }

    #[test]
    fn a_date_is_planned_as_before() {
        let unit = ScalarValue::Utf8(Some("month".into()));
        let arg_fields: Vec<FieldRef> = vec![
            Arc::new(Field::new("unit", DataType::Utf8, false)),
            Arc::new(Field::new("value", DataType::Date32, false)),
        ];
        let planned = |function: &ScalarUDF| {
            function
                .return_field_from_args(ReturnFieldArgs {
                    arg_fields: &arg_fields,
                    scalar_arguments: &[Some(&unit), None],
                })
                .unwrap()
        };
        assert_eq!(planned(&udf()), planned(&date_trunc()));
        assert_eq!(udf().aliases(), ["datetrunc"]);
    }

    proptest! {
        #[test]
        fn any_timestamps_truncate_as_the_builtin_does(
            days in proptest::collection::vec(prop::option::of(-30_000i64..30_000), 1..300),
            repeat in 1usize..20,
            unit in prop::sample::select(vec!["second", "hour", "day", "week", "month", "quarter", "year"]),
        ) {
            let values: ArrayRef = Arc::new(TimestampNanosecondArray::from(
                days.iter()
                    .flat_map(|day| std::iter::repeat_n(day.map(|d| d * 86_400_000_000_000 + d * 1_000_003), repeat))
                    .collect::<Vec<_>>(),
            ));
            assert_same(unit, values);
        }
    }
}
