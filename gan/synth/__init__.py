"""Synthetic-data core: plain Python, no Django. Import from the modules (this file stays light so that
reading the category data does not load torch):

- profile:  DegradationProfile, SensorProfile, category_data(), category_profiles(), category_profile()
- seed:     generate_seed(), split_holdout()
- train:    train() -> Synthesizer (sample, save), load_synthesizer(), TrainingCancelled, EarlyStopping
- generate: generate_splits(), validate_split_rows(), run_to_failure(), write_parquet_atomic()
- quality:  evaluate_quality(), verdict()
"""
