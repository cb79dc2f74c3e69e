"""Attribution: conversion inputs (pixel, server to server, links, promo codes), matching and credit models."""
