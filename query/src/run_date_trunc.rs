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
//! unchanged.
//!
//! A date is taken as it is: the built-in function has a date cast to a
//! timestamp first, row by row through calendar arithmetic, which cost as
//! much again as the truncation. Here only the first value of each run is
//! cast. Everything else (the types a date or any other argument becomes,
//! return type, ordering, aliases) is the built-in function's, so plans
//! and answers are the same.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, UInt32Array};
use arrow::compute::kernels::partition::partition;
use arrow::compute::take;
use arrow::datatypes::{DataType, Field, FieldRef, TimeUnit};
use datafusion::common::Result;
use datafusion::functions::datetime::date_trunc;
use datafusion::logical_expr::sort_properties::{ExprProperties, SortProperties};
use datafusion::logical_expr::type_coercion::functions::fields_with_udf;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};

/// Runs are worth finding only when there are few: with more than one run
/// per this many rows, the built-in function does the whole input.
const ROWS_PER_RUN: usize = 4;

/// The `date_trunc` function (and its alias `datetrunc`) to register in a
/// session in place of the built-in one.
pub fn udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(RunDateTrunc {
        inner: date_trunc().as_ref().clone(),
        signature: Signature::user_defined(Volatility::Immutable),
    })
}

/// What the built-in function has a date cast to.
const DATE_AS: DataType = DataType::Timestamp(TimeUnit::Nanosecond, None);

/// The built-in `date_trunc`, applied per run of equal values.
#[derive(Debug, PartialEq, Eq, Hash)]
struct RunDateTrunc {
    inner: ScalarUDF,
    /// User-defined, so that `coerce_types` can keep a date a date.
    signature: Signature,
}

/// `fields` with a date argument given the type the built-in function
/// casts it to.
fn as_builtin_sees(fields: &[FieldRef]) -> Vec<FieldRef> {
    fields
        .iter()
        .map(|field| match field.data_type() {
            DataType::Date32 => Arc::new(Field::new(field.name(), DATE_AS, field.is_nullable())),
            _ => Arc::clone(field),
        })
        .collect()
}

/// The types the built-in function has `arg_types` cast to.
fn builtin_coercion(arg_types: &[DataType]) -> Result<Vec<DataType>> {
    let fields: Vec<FieldRef> = arg_types
        .iter()
        .map(|data_type| Arc::new(Field::new("", data_type.clone(), true)))
        .collect();
    Ok(fields_with_udf(&fields, date_trunc().as_ref())?
        .iter()
        .map(|field| field.data_type().clone())
        .collect())
}

/// `values` as the built-in function takes them: a date cast to a
/// timestamp, anything else as it is.
fn as_builtin_value(values: ColumnarValue) -> Result<ColumnarValue> {
    match values.data_type() {
        DataType::Date32 => values.cast_to(&DATE_AS, None),
        _ => Ok(values),
    }
}

impl ScalarUDFImpl for RunDateTrunc {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let mut coerced = builtin_coercion(arg_types)?;
        if let ([_, DataType::Date32], [_, value]) = (arg_types, coerced.as_mut_slice()) {
            *value = DataType::Date32;
        }
        Ok(coerced)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        self.inner.return_field_from_args(ReturnFieldArgs {
            arg_fields: &as_builtin_sees(args.arg_fields),
            scalar_arguments: args.scalar_arguments,
        })
    }

    fn output_ordering(&self, inputs: &[ExprProperties]) -> Result<SortProperties> {
        self.inner.output_ordering(inputs)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let mut args = args;
        args.arg_fields = as_builtin_sees(&args.arg_fields);
        let ColumnarValue::Array(values) = &args.args[1] else {
            args.args[1] = as_builtin_value(args.args[1].clone())?;
            return self.inner.invoke_with_args(args);
        };
        let values = Arc::clone(values);
        let runs = partition(&[Arc::clone(&values)])?.ranges();
        if runs.len() * ROWS_PER_RUN > values.len() {
            args.args[1] = as_builtin_value(ColumnarValue::Array(values))?;
            return self.inner.invoke_with_args(args);
        }
        let firsts: UInt32Array = runs.iter().map(|run| run.start as u32).collect();
        let mut per_run = args;
        per_run.args[1] = as_builtin_value(ColumnarValue::Array(take(&values, &firsts, None)?))?;
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
    use arrow::array::{Date32Array, TimestampMicrosecondArray, TimestampNanosecondArray};
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
        let builtin_input = as_builtin_value(ColumnarValue::Array(Arc::clone(&values)))
            .and_then(|input| input.to_array(values.len()))
            .unwrap();
        assert_eq!(
            call(&udf(), unit, Arc::clone(&values)).as_ref(),
            call(&builtin, unit, builtin_input).as_ref(),
            "unit {unit}"
        );
    }

    #[test]
    fn dates_truncate_as_the_builtin_does_on_their_timestamps() {
        let runs: Vec<Option<i32>> = [20_000, 20_031, 20_400, 20_000]
            .into_iter()
            .flat_map(|day| std::iter::repeat_n(Some(day), 150))
            .chain([None, None, Some(-1)])
            .collect();
        let distinct: Vec<Option<i32>> = (0..300).map(|day| Some(day * 7 - 500)).collect();
        for days in [runs, distinct] {
            let values: ArrayRef = Arc::new(Date32Array::from(days));
            for unit in ["day", "week", "month", "quarter", "year"] {
                assert_same(unit, Arc::clone(&values));
            }
        }
    }

    #[test]
    fn a_date_stays_a_date_until_the_function_runs() {
        let function = udf();
        let coerced = function
            .inner()
            .coerce_types(&[DataType::Utf8, DataType::Date32])
            .unwrap();
        assert_eq!(coerced, [DataType::Utf8, DataType::Date32]);
        let builtin = builtin_coercion(&[DataType::Utf8, DataType::Date32]).unwrap();
        assert_eq!(builtin[1], DATE_AS, "the built-in function casts a date");
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

    /// `sql`'s answer over a table `t` of dates, with the built-in
    /// function or with this one in its place.
    async fn answer(sql: &str, replaced: bool) -> Vec<arrow::record_batch::RecordBatch> {
        use datafusion::datasource::MemTable;
        use datafusion::prelude::SessionContext;
        let days = Date32Array::from(vec![Some(20_000), Some(20_000), Some(20_045), None]);
        let schema = Arc::new(arrow::datatypes::Schema::new(vec![Field::new(
            "d",
            DataType::Date32,
            true,
        )]));
        let batch =
            arrow::record_batch::RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(days)])
                .unwrap();
        let ctx = SessionContext::new();
        if replaced {
            ctx.register_udf(udf());
        }
        let table = MemTable::try_new(schema, vec![vec![batch]]).unwrap();
        ctx.register_table("t", Arc::new(table)).unwrap();
        ctx.sql(sql).await.unwrap().collect().await.unwrap()
    }

    #[tokio::test]
    async fn a_date_is_planned_and_answered_as_before() {
        for sql in [
            "SELECT date_trunc('month', d) AS m FROM t",
            "SELECT CAST(datetrunc('week', d) AS DATE) AS w, count(*) FROM t GROUP BY 1 ORDER BY 1",
            "SELECT date_trunc('year', DATE '2026-11-29') AS y",
        ] {
            assert_eq!(answer(sql, true).await, answer(sql, false).await, "{sql}");
        }
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
