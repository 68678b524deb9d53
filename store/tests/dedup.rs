//! The duplicate check across commits: what this writer stored, what
//! another writer stored meanwhile, files a compaction replaced, and dates
//! too large for the writer's index of recent ids.

mod common;

use aitrail_store::compact::compact;
use aitrail_store::{Policy, StoreRoot};

use common::{POLICY, batch, count, now, open, parquet_files, usage};

/// The ids of the rows of `lines` that `writer` refuses as duplicates.
async fn duplicates_of(
    writer: &mut aitrail_store::writer::StoreWriter,
    lines: &[String],
) -> Vec<String> {
    let outcome = writer.commit(batch(lines), &[]).await.unwrap();
    outcome.duplicates.into_iter().map(|d| d.event_id).collect()
}

#[tokio::test]
async fn ids_this_writer_stored_stay_duplicates_batch_after_batch() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = open(&dir).await;
    let first = [usage("x", "2026-02-10T12:00:00Z", "web", 1)];
    let second = [usage("y", "2026-02-10T13:00:00Z", "web", 1)];
    assert!(duplicates_of(&mut writer, &first).await.is_empty());
    assert!(duplicates_of(&mut writer, &second).await.is_empty());
    let third = [
        usage("y", "2026-02-10T13:00:00Z", "web", 1),
        usage("x", "2026-02-11T01:00:00Z", "web", 1),
        usage("z", "2026-02-10T14:00:00Z", "web", 1),
    ];
    assert_eq!(duplicates_of(&mut writer, &third).await, ["y", "x"]);
    assert_eq!(count(&dir, "ai_usage").await, 3);
}

#[tokio::test]
async fn ids_another_writer_stored_meanwhile_are_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let mut this = open(&dir).await;
    let mut other = open(&dir).await;
    for id in ["b1", "b2"] {
        let lines = [usage(id, "2026-02-10T12:00:00Z", "web", 1)];
        assert!(duplicates_of(&mut this, &lines).await.is_empty());
    }
    let theirs = [usage("a1", "2026-02-10T15:00:00Z", "web", 1)];
    assert!(duplicates_of(&mut other, &theirs).await.is_empty());
    let catching_up = [usage("b3", "2026-02-11T12:00:00Z", "web", 1)];
    assert!(duplicates_of(&mut this, &catching_up).await.is_empty());

    let again = [
        usage("a1", "2026-02-10T15:00:00Z", "web", 1),
        usage("b1", "2026-02-10T12:00:00Z", "web", 1),
    ];
    assert_eq!(duplicates_of(&mut this, &again).await, ["a1", "b1"]);
    assert_eq!(count(&dir, "ai_usage").await, 4);
}

#[tokio::test]
async fn ids_in_files_a_compaction_rewrote_are_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = open(&dir).await;
    let first = [usage("x", "2026-02-10T12:00:00Z", "web", 1)];
    let second = [usage("y", "2026-02-10T13:00:00Z", "web", 1)];
    duplicates_of(&mut writer, &first).await;
    duplicates_of(&mut writer, &second).await;

    let root = StoreRoot::parse(dir.path().to_str().unwrap()).unwrap();
    let policy = Policy::parse(POLICY, "test policy").unwrap();
    let compacted = compact(&root, &policy, now().date_naive()).await.unwrap();
    assert!(compacted.iter().any(|c| c.files_removed == 2));
    let catching_up = [usage("w", "2026-02-11T12:00:00Z", "web", 1)];
    assert!(duplicates_of(&mut writer, &catching_up).await.is_empty());

    let again = [first[0].clone(), second[0].clone()];
    assert_eq!(duplicates_of(&mut writer, &again).await, ["x", "y"]);
    assert_eq!(count(&dir, "ai_usage").await, 3);
}

#[tokio::test]
async fn dates_beyond_the_index_limit_are_checked_against_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = open(&dir).await.with_recent_ids_limit(1);
    let lines: Vec<String> = (0..3)
        .map(|n| usage(&format!("e{n}"), "2026-02-10T12:00:00Z", "web", 1))
        .collect();
    assert!(duplicates_of(&mut writer, &lines).await.is_empty());
    assert_eq!(duplicates_of(&mut writer, &lines[..1]).await, ["e0"]);
    let mixed = [
        usage("new", "2026-02-10T12:30:00Z", "web", 1),
        lines[2].clone(),
    ];
    assert_eq!(duplicates_of(&mut writer, &mixed).await, ["e2"]);
    assert_eq!(count(&dir, "ai_usage").await, 4);
}

#[tokio::test]
async fn a_date_the_index_forgot_is_read_again_when_needed() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = open(&dir).await;
    let early = [usage("early", "2026-01-05T12:00:00Z", "web", 1)];
    assert!(duplicates_of(&mut writer, &early).await.is_empty());
    assert_eq!(duplicates_of(&mut writer, &early).await, ["early"]);
    for day in 10..30 {
        let later = [usage(
            &format!("later-{day}"),
            &format!("2026-01-{day}T12:00:00Z"),
            "web",
            1,
        )];
        assert!(duplicates_of(&mut writer, &later).await.is_empty());
    }
    assert_eq!(duplicates_of(&mut writer, &early).await, ["early"]);
    assert_eq!(count(&dir, "ai_usage").await, 21);
}

#[tokio::test]
async fn a_file_that_could_not_be_read_is_read_on_the_next_batch() {
    let dir = tempfile::tempdir().unwrap();
    let mut this = open(&dir).await;
    let mut other = open(&dir).await;
    let mine = [usage("mine", "2026-02-10T12:00:00Z", "web", 1)];
    assert!(duplicates_of(&mut this, &mine).await.is_empty());
    assert_eq!(duplicates_of(&mut this, &mine).await, ["mine"]);
    let before: std::collections::BTreeSet<_> = parquet_files(dir.path()).into_iter().collect();
    let theirs = [usage("theirs", "2026-02-10T13:00:00Z", "web", 1)];
    assert!(duplicates_of(&mut other, &theirs).await.is_empty());
    let catching_up = [usage("w", "2026-02-11T12:00:00Z", "web", 1)];
    assert!(duplicates_of(&mut this, &catching_up).await.is_empty());
    let added: Vec<_> = parquet_files(dir.path())
        .into_iter()
        .filter(|path| !before.contains(path) && path.to_str().unwrap().contains("2026-02-10"))
        .collect();
    assert_eq!(added.len(), 1, "{added:?}");
    let aside = dir.path().join("aside.parquet");
    std::fs::rename(&added[0], &aside).unwrap();

    let error = this.commit(batch(&theirs), &[]).await.err().unwrap();
    let name = added[0].file_name().unwrap().to_str().unwrap();
    let message = error.to_string();
    assert!(
        message.contains(name) && message.contains("not found"),
        "{message}"
    );
    std::fs::rename(&aside, &added[0]).unwrap();
    assert_eq!(duplicates_of(&mut this, &theirs).await, ["theirs"]);
    assert_eq!(count(&dir, "ai_usage").await, 3);
}

#[tokio::test]
async fn a_date_that_outgrows_its_filter_still_knows_every_id() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = open(&dir).await;
    let batches: Vec<Vec<String>> = (0..4)
        .map(|b| {
            (0..3_000)
                .map(|n| usage(&format!("b{b}-{n}"), "2026-02-10T12:00:00Z", "web", 1))
                .collect()
        })
        .collect();
    for lines in &batches {
        assert!(duplicates_of(&mut writer, lines).await.is_empty());
    }
    let again = [
        batches[0][17].clone(),
        usage("fresh", "2026-02-10T12:00:00Z", "web", 1),
        batches[3][2_999].clone(),
        batches[1][0].clone(),
    ];
    assert_eq!(
        duplicates_of(&mut writer, &again).await,
        ["b0-17", "b3-2999", "b1-0"]
    );
    assert_eq!(count(&dir, "ai_usage").await, 12_001);
}

#[tokio::test]
async fn every_data_file_carries_a_bloom_filter_of_its_event_ids() {
    use parquet::file::reader::FileReader;
    use parquet::file::serialized_reader::{ReadOptionsBuilder, SerializedFileReader};

    let dir = tempfile::tempdir().unwrap();
    let mut writer = open(&dir).await;
    let lines: Vec<String> = (0..500)
        .map(|n| usage(&format!("id-{n}"), "2026-02-10T12:00:00Z", "web", 1))
        .collect();
    duplicates_of(&mut writer, &lines).await;
    let files = parquet_files(dir.path());
    assert_eq!(files.len(), 1, "{files:?}");
    let options = ReadOptionsBuilder::new().with_reader_properties(
        parquet::file::properties::ReaderProperties::builder()
            .set_read_bloom_filter(true)
            .build(),
    );
    let reader = SerializedFileReader::new_with_options(
        std::fs::File::open(&files[0]).unwrap(),
        options.build(),
    )
    .unwrap();
    let row_group = reader.get_row_group(0).unwrap();
    let id_column = (0..row_group.num_columns())
        .find(|i| row_group.metadata().column(*i).column_path().string() == "event_id")
        .unwrap();
    let filter = row_group.get_column_bloom_filter(id_column).unwrap();
    assert!((0..500).all(|n| filter.check(&format!("id-{n}").as_str())));
    let strangers = (0..10_000)
        .filter(|n| filter.check(&format!("stranger-{n}").as_str()))
        .count();
    assert!(strangers < 500, "{strangers} of 10,000 absent ids pass");
}
