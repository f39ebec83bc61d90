"""Previews of a work's file: a thumbnail, a waveform with the duration, or an excerpt."""

from services.catalogue.preview.service import Preview, PreviewService, preview_service

__all__ = ["Preview", "PreviewService", "preview_service"]
