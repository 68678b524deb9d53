//! Casts of timestamps in UTC (or without a time zone) to dates, by
//! division.
//!
//! Arrow casts a timestamp to a date one value at a time through chrono's
//! calendar types (≈ 37 ns a value on the bench host). In UTC, or without
//! a time zone, the date is the value divided by a day's length, rounded
//! down,
//! which is a vectorized division. `CAST(date_trunc('month', date) AS
//! DATE)`, the monthly bucket of reports and compliance queries, spent 330
//! of the 830 ms of CPU of an all-time group-by's aggregation (9M rows) in
//! that cast. [`DateCast`] is an optimizer rule that has such casts made by
//! [`TimestampToDate`] instead. Values beyond what chrono can represent
//! (hundreds of thousands of years) go to Arrow's cast, so answers and
//! errors are the same.

use std::sync::{Arc, LazyLock};

use arrow::array::temporal_conversions::{
    MICROSECONDS_IN_DAY, MILLISECONDS_IN_DAY, NANOSECONDS_IN_DAY, SECONDS_IN_DAY,
};
use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{
    DataType, Date32Type, Field, FieldRef, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use chrono::NaiveDate;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr::{Cast, ScalarFunction};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, LogicalPlan, ReturnFieldArgs, ScalarFunctionArgs,
    ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::optimizer::{ApplyOrder, OptimizerConfig, OptimizerRule};

/// The optimizer rule: every `CAST(x AS DATE)` whose `x` is a timestamp in
/// UTC or without a time zone becomes `timestamp_to_date(x)`, keeping its
/// name.
#[derive(Debug, Default)]
pub struct DateCast;

impl OptimizerRule for DateCast {
    fn name(&self) -> &str {
        "date_cast"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::BottomUp)
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        let schema = match &plan {
            // A grouping set (ROLLUP, CUBE) is planned only as it is, not
            // under the alias that would keep its name.
            LogicalPlan::Aggregate(aggregate)
                if aggregate
                    .group_expr
                    .iter()
                    .any(|expr| matches!(expr, Expr::GroupingSet(_))) =>
            {
                return Ok(Transformed::no(plan));
            }
            LogicalPlan::Projection(_)
            | LogicalPlan::Filter(_)
            | LogicalPlan::Aggregate(_)
            | LogicalPlan::Sort(_)
            | LogicalPlan::Window(_) => Arc::clone(plan.inputs()[0].schema()),
            _ => return Ok(Transformed::no(plan)),
        };
        let names = NamePreserver::new(&plan);
        plan.map_expressions(|expr| {
            let name = names.save(&expr);
            let rewritten = expr.transform_up(|expr| by_division(expr, &schema))?;
            Ok(if rewritten.transformed {
                rewritten.update_data(|expr| name.restore(expr))
            } else {
                rewritten
            })
        })
    }
}

/// `expr` made by [`TimestampToDate`] if it is a cast of a timestamp in
/// UTC or without a time zone to a date.
fn by_division(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let Expr::Cast(Cast { expr: value, field }) = expr else {
        return Ok(Transformed::no(expr));
    };
    if field.data_type() == &DataType::Date32
        && matches!(value.get_type(schema)?, DataType::Timestamp(_, zone) if in_utc(zone.as_deref()))
    {
        let function = ScalarFunction::new_udf(Arc::clone(&TIMESTAMP_TO_DATE), vec![*value]);
        return Ok(Transformed::yes(Expr::ScalarFunction(function)));
    }
    Ok(Transformed::no(Expr::Cast(Cast { expr: value, field })))
}

/// Whether a timestamp's time zone `zone` is UTC (or there is none): its
/// date is then its value's.
fn in_utc(zone: Option<&str>) -> bool {
    matches!(zone, None | Some("UTC" | "+00:00"))
}

static TIMESTAMP_TO_DATE: LazyLock<Arc<ScalarUDF>> =
    LazyLock::new(|| Arc::new(ScalarUDF::new_from_impl(TimestampToDate::new())));

/// The date of a timestamp in UTC or without a time zone, as `CAST(x AS
/// DATE)` gives it: the value divided by a day's length, rounded down.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TimestampToDate {
    signature: Signature,
}

impl TimestampToDate {
    fn new() -> Self {
        TimestampToDate {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

/// The days chrono represents, which Arrow's cast accepts.
static CHRONO_DAYS: LazyLock<(i32, i32)> = LazyLock::new(|| {
    (
        Date32Type::from_naive_date(NaiveDate::MIN),
        Date32Type::from_naive_date(NaiveDate::MAX),
    )
});

impl ScalarUDFImpl for TimestampToDate {
    fn name(&self) -> &str {
        "timestamp_to_date"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Date32)
    }

    /// Null only where the timestamp is, as the cast it replaces: the
    /// plan's schema keeps the cast's nullability.
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let nullable = args.arg_fields.iter().any(|field| field.is_nullable());
        Ok(Arc::new(Field::new(
            self.name(),
            DataType::Date32,
            nullable,
        )))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [value] = <[ColumnarValue; 1]>::try_from(args.args).map_err(|_| {
            datafusion::common::DataFusionError::Internal(
                "timestamp_to_date takes one value".into(),
            )
        })?;
        let ColumnarValue::Array(values) = value else {
            return value.cast_to(&DataType::Date32, None);
        };
        let days = match values.data_type() {
            DataType::Timestamp(unit, zone) if in_utc(zone.as_deref()) => match unit {
                TimeUnit::Second => {
                    divided(values.as_primitive::<TimestampSecondType>(), SECONDS_IN_DAY)
                }
                TimeUnit::Millisecond => divided(
                    values.as_primitive::<TimestampMillisecondType>(),
                    MILLISECONDS_IN_DAY,
                ),
                TimeUnit::Microsecond => divided(
                    values.as_primitive::<TimestampMicrosecondType>(),
                    MICROSECONDS_IN_DAY,
                ),
                TimeUnit::Nanosecond => divided(
                    values.as_primitive::<TimestampNanosecondType>(),
                    NANOSECONDS_IN_DAY,
                ),
            },
            _ => None,
        };
        Ok(ColumnarValue::Array(match days {
            Some(days) => Arc::new(days),
            None => cast(&values, &DataType::Date32)?,
        }))
    }
}

/// `values` divided by `per_day`, rounded down, if every day is one chrono
/// represents.
fn divided<T>(
    values: &arrow::array::PrimitiveArray<T>,
    per_day: i64,
) -> Option<arrow::array::Date32Array>
where
    T: arrow::datatypes::ArrowPrimitiveType<Native = i64>,
{
    let (first, last) = *CHRONO_DAYS;
    let days = values.unary::<_, Date32Type>(|value| {
        i32::try_from(value.div_euclid(per_day)).unwrap_or(i32::MIN)
    });
    let representable = days.null_count() == days.len()
        || (arrow::compute::min(&days)? >= first && arrow::compute::max(&days)? <= last);
    representable.then_some(days)
}

#[cfg(test)]
mod tests {
    use arrow::array::{ArrayRef, Int32Array, TimestampMicrosecondArray, TimestampSecondArray};
    use arrow::datatypes::{Field, Schema};
    use arrow::record_batch::RecordBatch;
    use datafusion::config::ConfigOptions;
    use datafusion::datasource::MemTable;
    use datafusion::execution::SessionStateBuilder;
    use datafusion::prelude::SessionContext;
    use proptest::prelude::*;

    use super::*;

    /// [`TimestampToDate`] applied to `values`.
    fn by_division(values: ArrayRef) -> Result<ArrayRef> {
        let args = ScalarFunctionArgs {
            args: vec![ColumnarValue::Array(Arc::clone(&values))],
            arg_fields: vec![Arc::new(Field::new("t", values.data_type().clone(), true))],
            number_rows: values.len(),
            return_field: Arc::new(Field::new("d", DataType::Date32, true)),
            config_options: Arc::new(ConfigOptions::default()),
        };
        TIMESTAMP_TO_DATE
            .invoke_with_args(args)?
            .into_array(values.len())
    }

    proptest! {
        #[test]
        fn dates_are_those_arrows_cast_gives(
            values in proptest::collection::vec(prop::option::of(any::<i64>().prop_map(|v| v / 1_000)), 1..200),
            zone in prop::sample::select(vec![None, Some("UTC"), Some("+00:00")]),
        ) {
            let micros: ArrayRef = Arc::new(
                TimestampMicrosecondArray::from(values.clone()).with_timezone_opt(zone),
            );
            let seconds: ArrayRef = Arc::new(TimestampSecondArray::from(
                values.iter().map(|v| v.map(|v| v / 1_000_000)).collect::<Vec<_>>(),
            ));
            for values in [micros, seconds] {
                let expected = cast(&values, &DataType::Date32).ok();
                prop_assert_eq!(by_division(values).ok(), expected);
            }
        }
    }

    /// `sql`'s rows and plan over a table `t` of a timestamp `ts` (UTC),
    /// a timestamp `local` (without zone), a number and a timestamp `at`
    /// that is never null, with the rule or without.
    async fn answer(sql: &str, with_rule: bool) -> (Vec<RecordBatch>, String) {
        let ts = TimestampMicrosecondArray::from(vec![
            Some(-1),
            Some(0),
            Some(1_764_374_400_000_000),
            Some(1_764_460_799_999_999),
            None,
        ]);
        let schema = Arc::new(Schema::new(vec![
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
            Field::new(
                "local",
                DataType::Timestamp(TimeUnit::Microsecond, None),
                true,
            ),
            Field::new("n", DataType::Int32, false),
            Field::new(
                "at",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                false,
            ),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(ts.clone().with_timezone("UTC")),
                Arc::new(ts),
                Arc::new(Int32Array::from(vec![1, 2, 3, 4, 5])),
                Arc::new(
                    TimestampMicrosecondArray::from(vec![-1, 0, 1, 86_400_000_000, 0])
                        .with_timezone("UTC"),
                ),
            ],
        )
        .unwrap();
        let mut state = SessionStateBuilder::new().with_default_features();
        if with_rule {
            state = state.with_optimizer_rule(Arc::new(DateCast));
        }
        let ctx = SessionContext::new_with_state(state.build());
        let table = MemTable::try_new(schema, vec![vec![batch]]).unwrap();
        ctx.register_table("t", Arc::new(table)).unwrap();
        let frame = ctx.sql(sql).await.unwrap();
        let plan = format!(
            "{}",
            frame
                .clone()
                .into_optimized_plan()
                .unwrap()
                .display_indent()
        );
        (frame.collect().await.unwrap(), plan)
    }

    #[tokio::test]
    async fn casts_to_dates_are_planned_by_division_with_the_same_answers() {
        for sql in [
            "SELECT CAST(ts AS DATE) AS d, sum(n) AS n FROM t GROUP BY 1 ORDER BY 1",
            "SELECT CAST(local AS DATE), n FROM t WHERE CAST(ts AS DATE) >= DATE '1970-01-01' ORDER BY n",
            "SELECT CAST(date_trunc('month', CAST(ts AS DATE)) AS DATE) FROM t ORDER BY 1",
            "SELECT d, count(*) AS n FROM (SELECT CAST(at AS DATE) AS d FROM t) GROUP BY d ORDER BY d",
        ] {
            let (with, plan) = answer(sql, true).await;
            let (without, _) = answer(sql, false).await;
            assert_eq!(with, without, "{sql}");
            assert!(plan.contains("timestamp_to_date"), "{sql}: {plan}");
        }
    }

    #[tokio::test]
    async fn other_casts_and_grouping_sets_are_left_as_they_are() {
        for sql in [
            "SELECT CAST(n AS DATE) AS d, CAST(ts AS VARCHAR) AS s FROM t ORDER BY n",
            "SELECT CAST(at AS DATE) AS d, sum(n) AS n FROM t GROUP BY ROLLUP(CAST(at AS DATE)) ORDER BY 1",
        ] {
            let (with, plan) = answer(sql, true).await;
            assert_eq!(with, answer(sql, false).await.0, "{sql}");
            assert!(!plan.contains("timestamp_to_date"), "{sql}: {plan}");
        }
    }
}
