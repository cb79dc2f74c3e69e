"""Pure builders of Dash components and Plotly figures; no I/O."""
