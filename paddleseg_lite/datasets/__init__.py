"""Datasets: file-list base, folder dataset, retinal-vessel datasets and the synthetic generator (all registered)."""
from paddleseg_lite.datasets.dataset import Dataset, SegDataset
from paddleseg_lite.datasets.folder import FolderDataset
from paddleseg_lite.datasets.synthetic import SyntheticVessels
from paddleseg_lite.datasets.vessels import CHASEDB1, DRIVE, HRF, STARE

__all__ = ["Dataset", "SegDataset", "FolderDataset", "DRIVE", "STARE", "CHASEDB1", "HRF", "SyntheticVessels"]
