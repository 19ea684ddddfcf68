"""The one exception type the method library raises for bad input data or configuration."""


class DatasetInputError(ValueError):
    """A dataset or its configuration cannot be used as given.

    The message names the dataset (and the column or parameter) and says what to do.
    """
