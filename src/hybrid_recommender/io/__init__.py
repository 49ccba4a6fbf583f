"""Reading data sets as users download them, and the project's own Kedro datasets."""
