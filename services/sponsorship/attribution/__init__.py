"""Attribution: conversion inputs (pixel, server to server, links, promo codes), household matching, and the credit models."""
