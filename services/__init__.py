"""The product's domain services. pandas keeps its text in Python objects here, as it does when pyarrow is absent:
pyarrow is installed for its CSV reader (services.measurement.raw_reads), and with it pandas 3 would otherwise turn
every text column into an Arrow string array, a different cost and behaviour from the ones the code was built on."""
import pandas as _pd

_pd.set_option("mode.string_storage", "python")
